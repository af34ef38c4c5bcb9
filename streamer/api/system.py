"""`GET /system/status`, for admins: what the console's system page shows, read from the stores (nothing here asks
a worker): the latest health state of each worker, source, recorder and engine from `<prefix>:health`, Redis,
what waits in the spool files, the VLM queue's figures, and disk use against the retention budget."""

from __future__ import annotations

import json
import shutil
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from streamer.alerts.redis_access import connect as redis_connect
from streamer.alerts.spool import backlogs
from streamer.api.security import admin_only
from streamer.auth.users import User
from streamer.index import store
from streamer.media.outbox import OutboxReader
from streamer.query.service import NoIndex
from streamer.redact import redact_url

router = APIRouter()
HEALTH_SCAN = 2000  # the newest health entries read for the latest state of each component


@router.get("/system/status")
async def system_status(request: Request, _admin: Annotated[User, Depends(admin_only)]) -> dict:
    state = request.app.state
    return await run_in_threadpool(_status, state.service, state.redis_url)


def _status(service, redis_url: str | None) -> dict:
    return {
        "storage": storage_figures(service),
        "spool": _spool(service.storage_dir / "spool"),
        **_from_redis(service.config, redis_url),
    }


def storage_figures(service) -> dict:
    config = service.config
    used = 0
    try:
        conn = service.open_index()
        try:
            used = store.recorded_bytes(conn)
        finally:
            conn.close()
    except NoIndex:  # nothing recorded yet
        used = 0
    clips = service.storage_dir / "clips"
    used += sum(path.stat().st_size for path in clips.rglob("*.mp4")) if clips.is_dir() else 0
    cuts = service.cuts.usage()
    disk = shutil.disk_usage(service.storage_dir if service.storage_dir.exists() else service.storage_dir.parent)
    index = config.index.url
    return {
        "folder": str(service.storage_dir),
        "used_bytes": used + cuts,
        "cuts_bytes": cuts,
        "index": redact_url(index) if index else str(service.storage_dir / "index.sqlite3"),
        "object_store": config.storage.url,
        "upload_backlog": _uploads(service),
        "cuts_budget_bytes": service.cuts.max_bytes,
        "budget_bytes": int(config.storage.max_size) if config.storage.max_size is not None else None,
        "free_bytes": disk.free,
        "min_free_bytes": int(config.storage.min_free),
    }


def _uploads(service) -> dict | None:
    """This host's files not in the object store yet (the host serving this page; each camera host says its own
    on the health stream)."""
    if service.config.storage.url is None:
        return None
    files, size = OutboxReader(service.storage_dir).backlog()
    return {"files": files, "bytes": size}


def _spool(folder) -> list[dict]:
    """Each spool file's bytes not yet delivered (its size past the delivered offset beside it)."""
    return [{"name": backlog.name, "pending_bytes": backlog.pending_bytes} for backlog in backlogs(folder)]


def _site(client, config) -> dict | None:
    """On a site of many hosts: each host (live or silent, with its cameras) and who holds each camera's lease."""
    if config.site is None:
        return None
    import time

    from streamer.site.leases import Leases
    from streamer.site.membership import Membership

    now = time.time()
    members = Membership(client, config.redis.prefix, "-", config.site.lease_s)
    holders = Leases(client, config.redis.prefix, "-", config.site.lease_s).holders(sorted(config.enabled_cameras()))
    nodes = []
    for node in members.nodes(now):
        raw = client.get(f"{config.redis.prefix}:site:node:{node.name}")
        info = json.loads(raw) if raw else {}
        nodes.append(
            {
                "node": node.name,
                "live": node.live,
                "seen_s_ago": round(now - node.seen_ts, 1),
                "cameras": sorted(camera for camera, holder in holders.items() if holder == node.name),
                "pid": info.get("pid"),
                "started_ts": info.get("started_ts"),
            }
        )
    return {"nodes": nodes, "leases": holders}


def _from_redis(config, redis_url: str | None) -> dict:
    from streamer.alerts.streams import StreamNames

    names = StreamNames(config.redis.prefix)
    if redis_url is None:
        return {
            "redis": {"reachable": False, "alerts": None, "error": "no Redis configured for this API"},
            "components": [],
            "vlm": None,
            "site": None,
        }
    client = redis_connect(redis_url, config.redis.connect_timeout_s)
    try:
        latest: dict[tuple[str, str], dict] = {}
        for _, fields in client.xrevrange(names.health, count=HEALTH_SCAN):
            entry = json.loads(fields.get(b"data", b"{}"))
            latest.setdefault((entry.get("camera", "?"), entry.get("component", "?")), entry)
        components = [
            {key: entry.get(key) for key in ("camera", "component", "state", "reason", "iso", "ts")}
            for (_, _), entry in sorted(latest.items())
        ]
        vlm = None
        if config.vlm is not None:
            from streamer.vlm.queue import JobQueue

            vlm = JobQueue(client, names, config.vlm.queue).stats()
        return {
            "redis": {"reachable": True, "alerts": int(client.xlen(names.alerts)), "error": None},
            "components": components,
            "vlm": vlm,
            "site": _site(client, config),
        }
    except redis.RedisError as error:
        return {
            "redis": {"reachable": False, "alerts": None, "error": str(error)},
            "components": [],
            "vlm": None,
            "site": None,
        }
    finally:
        client.close()
