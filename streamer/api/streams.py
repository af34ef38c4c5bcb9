"""Long-lived answers (the alert feed, MJPEG live pictures): how many may be open, and whether the person who
opened one may still read it.

- `StreamGate`: at most `api.max_streams` at once, and `api.max_streams_per_user` for one user; past either a
  new one is answered 429 (the ones open go on). A slot is given back when its response ends, however it ends.
- `Recheck`: every `RECHECK_S` a stream asks whether anything about logins changed (the user store's file) and,
  when it did or every `FULL_CHECK_S` regardless (a session or token expiring), authenticates its request again;
  a stream whose login has gone (logout, expiry, revoked token, the user removed, a login now required) or whose
  user changed ends. A removed user's streams stop within seconds."""

from __future__ import annotations

import threading
import time
from collections import Counter

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.exceptions import HTTPException

from streamer.api.security import authenticate
from streamer.auth.users import User

RECHECK_S = 2.0
FULL_CHECK_S = 60.0


class StreamGate:
    def __init__(self, total: int, per_user: int):
        self.total = total
        self.per_user = per_user
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def take(self, user: User) -> "Slot":
        with self._lock:
            if sum(self._open.values()) >= self.total:
                raise HTTPException(
                    429,
                    f"{self.total} streams are open on this server, its limit (api.max_streams)",
                    headers={"Retry-After": "10"},
                )
            if self._open[user.name] >= self.per_user:
                raise HTTPException(
                    429,
                    f"user '{user.name}' has {self.per_user} streams open, the limit "
                    "(api.max_streams_per_user); close a tab or a camera view",
                    headers={"Retry-After": "10"},
                )
            self._open[user.name] += 1
        return Slot(self, user.name)

    def _give_back(self, name: str) -> None:
        with self._lock:
            self._open[name] -= 1
            if self._open[name] <= 0:
                del self._open[name]


class Slot:
    def __init__(self, gate: StreamGate, name: str):
        self._gate, self._name, self._held = gate, name, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._gate._give_back(self._name)


class GatedStream(StreamingResponse):
    """A streaming response that gives its slot back when it ends: finished, cancelled by a disconnect, or failed."""

    def __init__(self, slot: Slot, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.slot = slot

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


class Recheck:
    def __init__(self, request, user: User):
        self.request = request
        self.user = user
        self.store = request.app.state.auth.store
        self._version = self.store.version()
        self._looked = self._checked = time.monotonic()

    async def allowed(self) -> bool:
        """False once the stream must end; cheap when called often (a stat at most every RECHECK_S)."""
        now = time.monotonic()
        if now - self._looked < RECHECK_S:
            return True
        self._looked = now
        version = self.store.version()
        if version == self._version and now - self._checked < FULL_CHECK_S:
            return True
        self._version, self._checked = version, now
        try:
            user = await run_in_threadpool(authenticate, self.request, False)
        except HTTPException:
            return False
        return user == self.user
