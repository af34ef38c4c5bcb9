"""This host's name on the site: `--node NAME`, else `STREAMER_NODE`, else the machine's host name. It names the
host in leases, pins (`cameras.<name>.node`), health entries and the console's system page."""

from __future__ import annotations

import os
import re
import socket

NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class BadNodeName(ValueError):
    pass


def node_name(flag: str | None = None) -> str:
    name = flag or os.environ.get("STREAMER_NODE") or socket.gethostname().split(".")[0]
    if not NODE_NAME.match(name):
        raise BadNodeName(
            f"'{name}' is not a host name for the site (letters, digits, . _ -; at most 63): "
            "give one with --node NAME or STREAMER_NODE"
        )
    return name
