"""A stored file the API serves from the object store (its local copy gone): the browser's Range request becomes
one ranged GET of the object, streamed through, so a video seeks as it does from a local file.

The index lists a file before its host has uploaded it (uploads go in order, after an outage of the store
perhaps minutes later), and retention takes a file out of the index when it deletes it: an object that is listed
but missing is one not uploaded yet, answered 503 with Retry-After, never 410 as if it were gone for good."""

from __future__ import annotations

import re

from fastapi import HTTPException
from starlette.responses import StreamingResponse

from streamer.media.objects import ObjectStore, ObjectStoreError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024
RETRY_AFTER_S = 5


def object_response(
    objects: ObjectStore, relative: str, media_type: str, range_header: str | None
) -> StreamingResponse:
    start, end = _asked(range_header)
    try:
        if start is None and end is not None:  # the last `end` bytes
            size = objects.size(relative)
            if size is None:
                raise _not_uploaded_yet()
            start, end = max(0, size - end), None
        part = objects.read_range(relative, start or 0, end)
    except ObjectStoreError as error:
        if "NoSuchKey" in str(error) or "404" in str(error):
            raise _not_uploaded_yet() from None
        if "InvalidRange" in str(error) or "416" in str(error):
            raise HTTPException(416, "the range is past the end of the file") from None
        raise HTTPException(503, "the object store cannot be reached; try again") from None
    headers = {"accept-ranges": "bytes", "content-length": str(part.end - part.start + 1)}
    status = 200
    if range_header is not None:
        status = 206
        headers["content-range"] = f"bytes {part.start}-{part.end}/{part.total}"
    return StreamingResponse(_chunks(part.body), status_code=status, media_type=media_type, headers=headers)


def _not_uploaded_yet() -> HTTPException:
    return HTTPException(
        503,
        "the file is not in the object store yet: its host uploads it; try again",
        headers={"retry-after": str(RETRY_AFTER_S)},
    )


def _asked(header: str | None) -> tuple[int | None, int | None]:
    """(start, end) of a single byte range; (None, n) for the last n bytes; anything else is the whole file."""
    if header is None:
        return 0, None
    match = _RANGE.match(header.strip())
    if match is None or match[1] == match[2] == "":
        return 0, None
    if match[1] == "":
        return None, int(match[2])
    start, end = int(match[1]), int(match[2]) if match[2] else None
    if end is not None and end < start:
        raise HTTPException(416, "the range ends before it starts")
    return start, end


def _chunks(body):
    try:
        while chunk := body.read(CHUNK):
            yield chunk
    finally:
        body.close()
