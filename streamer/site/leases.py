"""Leases on the shared Redis: a camera is run by the host that holds `<prefix>:site:lease:<camera>`, whose value
`<node>|<token>` names it and a fencing token (an INCR per acquisition, so a later holder always has a larger one).
A lease lives `lease_s` unless renewed; only its holder renews or releases it (each a compare-and-set script).

A writer for a camera (its alert publisher) carries the lease value it was started with, and the delivery script
refuses a message whose lease is no longer that value (`fenced`): a host that lost its lease, even one that was
cut off from Redis meanwhile, never publishes for the camera again.

Each acquisition also records who held the lease before (`last_owner`), so the new holder can tell a handover
from a host that died: a host stopping cleanly marks its handovers and leaves the site's host list."""

from __future__ import annotations

from dataclasses import dataclass

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {current, redis.call('GET', KEYS[3]) or '', 0}
  end
  return false
end
local token = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. token
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
local before = redis.call('GET', KEYS[3]) or ''
redis.call('SET', KEYS[3], value .. '|' .. ARGV[3])
return {value, before, 1}
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lease_key(prefix: str, camera: str) -> str:
    return f"{prefix}:site:lease:{camera}"


@dataclass(frozen=True)
class Acquired:
    value: str  # "<node>|<token>": what the holder renews, releases and fences its writes with
    previous: str  # the earlier holder as "<node>|<token>|<acquired ts>", "" for none
    fresh: bool  # False: this host held it already (a restart of its coordinator)

    @property
    def token(self) -> int:
        return int(self.value.rsplit("|", 1)[1])

    @property
    def previous_node(self) -> str | None:
        return self.previous.split("|", 1)[0] if self.previous else None


class Leases:
    def __init__(self, client, prefix: str, node: str, lease_s: float):
        self.client = client
        self.prefix = prefix
        self.node = node
        self.lease_ms = int(lease_s * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self, camera: str, now: float) -> Acquired | None:
        keys = [
            lease_key(self.prefix, camera),
            f"{self.prefix}:site:epoch:{camera}",
            f"{self.prefix}:site:last_owner:{camera}",
        ]
        got = self._acquire(keys=keys, args=[self.node, self.lease_ms, f"{now:.3f}"])
        if not got:
            return None
        value, previous, fresh = (part.decode() if isinstance(part, bytes) else part for part in got)
        return Acquired(value, previous, bool(int(fresh)))

    def renew(self, camera: str, value: str) -> bool:
        return bool(self._renew(keys=[lease_key(self.prefix, camera)], args=[value, self.lease_ms]))

    def release(self, camera: str, value: str) -> bool:
        """Hand the camera over now; the mark says the next holder takes it from a host that stopped cleanly."""
        keys = [lease_key(self.prefix, camera), handover_key(self.prefix, camera)]
        return bool(self._release(keys=keys, args=[value, 60_000]))

    def holders(self, cameras) -> dict[str, str | None]:
        """camera → the node holding its lease now (None: nobody)."""
        values = self.client.mget([lease_key(self.prefix, camera) for camera in cameras]) if cameras else []
        return {camera: (value.decode().split("|", 1)[0] if value else None) for camera, value in zip(cameras, values)}

    def handed_over(self, camera: str, previous: str) -> bool:
        """Whether `previous` (a lease value) released the camera on purpose; the mark is used up."""
        key = handover_key(self.prefix, camera)
        mark = self.client.get(key)
        if mark is not None:
            self.client.delete(key)
        return mark is not None and previous.startswith(mark.decode())


def handover_key(prefix: str, camera: str) -> str:
    return f"{prefix}:site:handover:{camera}"
