"""`WS /cameras/{name}/live.ws`: the camera's live video for the console's player, from the Redis stream its
worker writes while someone watches (runtime/live_video.py), on whichever host of the site runs the camera.

Each WebSocket message is binary: 4 bytes (big-endian) giving the length of a JSON head, the head, then the
payload. Heads, in the order the worker wrote them: `init` (an MP4 init segment as payload, with its MSE `mime`
and `origin_s`), `fragment` (one frame's moof + mdat; `key` for a keyframe, the frame's `pts_s` and `wall_ts`,
and `received_ts`, when the worker got it), `tracks` (the boxes of a detected frame as fractions of the picture,
at `t` seconds on the video's clock), `unplayable` (a codec browsers cannot play: the player falls back to the
JPEG picture), `ended` (the connection to the camera ended; an `init` follows when it is back). A new viewer
starts at the latest keyframe on the stream.

Logins as for every stream: the session or token is checked again while it is open, the stream gate counts it,
and a page of another origin cannot open it (its Origin must be this Host: no cross-site WebSocket hijacking)."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from urllib.parse import urlsplit

import redis
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from streamer.alerts.streams import video_key, watched_key
from streamer.api.security import authenticate, known_camera
from streamer.api.streams import Recheck

router = APIRouter()

WATCHED_TTL_S = 5  # the worker keeps muxing this long after the last viewer's last renewal
RENEW_S = 2.0
PAGE = 50
BLOCK_MS = 1000
STALE_MS = 1500  # a stream whose newest entry is older is no longer being written
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


@router.websocket("/cameras/{name}/live.ws")
async def live_video(websocket: WebSocket, name: str):
    app = websocket.app
    try:
        _same_origin(websocket)
        user = await run_in_threadpool(authenticate, websocket)
        known_camera(websocket, user, name)
        slot = app.state.stream_gate.take(user)
    except HTTPException as refused:
        await websocket.close(
            POLICY_VIOLATION if refused.status_code != 429 else TRY_AGAIN_LATER, reason=str(refused.detail)[:120]
        )
        return
    client = app.state.redis
    try:
        await websocket.accept()
        if client is None:
            await _send(websocket, {"type": "unplayable", "reason": "no Redis: the live picture only"})
            await websocket.close()
            return
        await _relay(websocket, client, app.state.streams.prefix, name, Recheck(websocket, user))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the viewer left (a send on a closed socket: Starlette's RuntimeError, uvicorn's ClientDisconnected)
    except redis.RedisError:
        await websocket.close(TRY_AGAIN_LATER, reason="Redis cannot be reached")
    finally:
        slot.release()


def _same_origin(websocket: WebSocket) -> None:
    origin = websocket.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host"):
        raise HTTPException(403, "a page of another site may not open this stream")


async def _relay(websocket: WebSocket, client, prefix: str, name: str, recheck: Recheck) -> None:
    key, watched = video_key(prefix, name), watched_key(prefix, name)
    await client.set(watched, b"1", ex=WATCHED_TTL_S)
    renewed = time.monotonic()
    gone = asyncio.create_task(_until_closed(websocket))  # a viewer who left while the camera sends nothing
    try:
        last = await _catch_up(websocket, client, key)
        while not gone.done():
            if not await recheck.allowed():
                await websocket.close(POLICY_VIOLATION, reason="the login ended")
                return
            if time.monotonic() - renewed >= RENEW_S:
                await client.set(watched, b"1", ex=WATCHED_TTL_S)
                renewed = time.monotonic()
            found = await client.xread({key: last}, count=PAGE, block=BLOCK_MS)
            for _, entries in found or ():
                for entry_id, fields in entries:
                    last = entry_id
                    await _forward(websocket, fields)
    finally:
        gone.cancel()


async def _until_closed(websocket: WebSocket) -> None:
    """The viewer sends nothing: whatever comes is read and dropped, until the socket closes."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _catch_up(websocket: WebSocket, client, key: str) -> bytes | str:
    """The latest init segment, then every entry from the latest keyframe after it: the picture at once. Returns
    the id to read on from ("0-0" when the worker has written nothing yet: it starts with an init)."""
    newest = await client.xrevrange(key, count=1)
    if not newest:
        return "0-0"
    seconds, micros = await client.time()
    if int(newest[0][0].split(b"-")[0]) < seconds * 1000 + micros // 1000 - STALE_MS:
        return newest[0][0]  # left by viewers gone: the worker starts afresh (an init and its keyframe) for this one
    held: list[tuple[bytes, dict]] = []  # newest first
    latest_key: int | None = None
    upper: bytes | str = "+"
    while True:
        page = [entry for entry in await client.xrevrange(key, max=upper, count=PAGE) if entry[0] != upper]
        if not page:
            return newest[0][0]  # no init left on the stream: go on from here (the next init starts the video)
        for entry_id, fields in page:
            head = _head(fields)
            if head.get("type") == "init":
                after = held if latest_key is None else held[: latest_key + 1]
                for _, sent in [(entry_id, fields), *reversed(after)]:
                    await _forward(websocket, sent)
                return newest[0][0]
            held.append((entry_id, fields))
            if latest_key is None and head.get("type") == "fragment" and head.get("key"):
                latest_key = len(held) - 1
        upper = page[-1][0]


async def _forward(websocket: WebSocket, fields: dict) -> None:
    await websocket.send_bytes(_message(fields.get(b"head", b"{}"), fields.get(b"data", b"")))


async def _send(websocket: WebSocket, head: dict) -> None:
    await websocket.send_bytes(_message(json.dumps(head).encode(), b""))


def _message(head: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(head)) + head + data


def _head(fields: dict) -> dict:
    try:
        return json.loads(fields.get(b"head", b"{}"))
    except ValueError:
        return {}
