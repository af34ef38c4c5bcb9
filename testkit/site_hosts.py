"""A site of hosts on one machine, for the tests and the site benchmark: one config for every `streamer run --node`
(each host's storage folder named after it through ${STREAMER_NODE}), six cameras replayed live from a looping
file, and what Redis says of them: who holds each camera's lease, and which host last said it streams."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

CAMERAS = [f"cam-{n}" for n in range(6)]


def site_config(
    folder: Path,
    clip: Path,
    models: Path,
    redis_url: str,
    segment_s: float = 2.0,
    index_url: str | None = None,
    storage: dict | None = None,
    live_every_s: float = 0,
    rtsp_url: str | None = None,
) -> Path:
    """`index_url`: the site's PostgreSQL index (else each host's SQLite); `storage`: the `storage:` section (an
    object store), as a dict; `rtsp_url`: the last camera is that RTSP camera instead of a looping file."""

    def source(name: str) -> str:
        if rtsp_url is not None and name == CAMERAS[-1]:
            return f"url: {rtsp_url}"
        return f"url: {clip}\n    loop: true\n    realtime: true\n    start_time: now"

    cameras = "".join(
        f"""
  {name}:
    {source(name)}
    live_every_s: {live_every_s:g}
    record: {{segment_s: {segment_s:g}}}
    detect: {{fps: 2, model: {{weights: yolo26n.pt, classes: [person, bicycle]}}}}
    zones: {{crossing: {{polygon: [[300, 150], [640, 150], [640, 272], [300, 272]]}}}}
    rules: [{{type: zone_intrusion, zone: crossing, classes: [person, bicycle], end_after_s: 1.0}}]
"""
        for name in CAMERAS
    )
    config = folder / "site.yaml"
    shared = (f"index: {{url: '{index_url}'}}\n" if index_url else "") + (
        f"storage: {json.dumps(storage)}\n" if storage else ""
    )
    config.write_text(
        f"storage_dir: {folder}/hosts/${{STREAMER_NODE}}\nmodels_dir: {models}\nredis: {{url: '{redis_url}'}}\n"
        f"site: {{lease_s: 6, renew_every_s: 1}}\napi: {{enabled: false}}\nlogging: {{stats_interval_s: 2}}\n"
        f"{shared}cameras:{cameras}"
    )
    return config


def holders(client) -> dict[str, str | None]:
    """camera → the host holding its lease now (None: nobody)."""
    values = client.mget([f"streamer:site:lease:{camera}" for camera in CAMERAS])
    return {camera: value.decode().split("|")[0] if value else None for camera, value in zip(CAMERAS, values)}


def streaming_since(client, since_ts: float = 0.0) -> dict[str, str]:
    """camera → the first host whose supervisor said its source streams, at or after `since_ts`."""
    found: dict[str, str] = {}
    for _, fields in client.xrange("streamer:health"):
        entry = json.loads(fields[b"data"])
        if entry["component"] == "source" and entry["state"] == "streaming" and entry["ts"] >= since_ts:
            found.setdefault(entry["camera"], entry.get("node"))
    return found


def shares(client) -> list[int] | None:
    """How many cameras each host holds, smallest first; None while a camera is held by nobody (a handover in
    flight: the giving host has let go and the taking host has not yet taken it)."""
    held = holders(client)
    if None in held.values():
        return None
    return sorted(Counter(held.values()).values())


def latest_streaming(client) -> dict[str, float]:
    """camera → when a supervisor last said its source streams."""
    found: dict[str, float] = {}
    for _, fields in client.xrange("streamer:health"):
        entry = json.loads(fields[b"data"])
        if entry["component"] == "source" and entry["state"] == "streaming":
            found[entry["camera"]] = entry["ts"]
    return found


def said_between(
    client,
    since: float,
    until: float = float("inf"),
    components: tuple[str, ...] = ("site", "worker", "source", "engine", "recorder"),
) -> list[tuple]:
    """What the hosts said on the health stream between two times, seconds from `since`: for failure messages."""
    return [
        (round(e["ts"] - since, 1), e.get("node"), e["camera"], e["component"], e["state"], e["reason"][:60])
        for e in (json.loads(f[b"data"]) for _, f in client.xrange("streamer:health"))
        if since <= e["ts"] <= until and e["component"] in components
    ]
