"""Which live host runs which camera: a pure function of the cameras (with their pins) and the live hosts, so
every host works out the same answer on its own with no one to ask.

Rendezvous hashing ranks the hosts for each camera by a hash of (camera, host); each camera goes to the best-ranked
host that is not yet full, a host being full at the fair share (the cameras divided by the hosts, rounded up), so
no host runs more than one camera over any other. A host that joins or leaves moves few cameras: those whose
ranking it leads, and the few that the load bound shifts. A pinned camera runs on its host or nowhere."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping


def rank(camera: str, node: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{camera}\x00{node}".encode(), digest_size=8).digest(), "big")


def assign(cameras: Mapping[str, str | None], nodes: Iterable[str]) -> dict[str, str | None]:
    """camera → the host that runs it (None: no live host may: its pinned host is gone, or there are no hosts).
    `cameras`: each camera's pin (None: any host)."""
    live = sorted(set(nodes))
    owners: dict[str, str | None] = {}
    load = dict.fromkeys(live, 0)
    for camera, pin in sorted(cameras.items()):
        if pin is not None:
            owners[camera] = pin if pin in load else None
            if pin in load:
                load[pin] += 1
    free = sorted(camera for camera, pin in cameras.items() if pin is None)
    if not live:
        return {**owners, **dict.fromkeys(free, None)}
    share = math.ceil((len(free) + sum(load.values())) / len(live))
    for camera in free:
        ranked = sorted(live, key=lambda node: rank(camera, node), reverse=True)
        node = next((n for n in ranked if load[n] < share), ranked[0])
        owners[camera] = node
        load[node] += 1
    return owners
