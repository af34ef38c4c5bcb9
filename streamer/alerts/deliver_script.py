"""The one Lua script every alert goes through, from a camera worker's spool or from a VLM worker.

Atomically, per message: set its dedupe key (SET NX; a re-sent message stops here), merge it with the event's
latest state, store that state, and XADD the result to the message's streams. The merge is why the script
exists: a camera and a VLM worker each own part of an event's fields, and every message must carry both.
- A camera message (an announcement: the camera's own, or a VLM watch sighting) takes the VLM's verdict fields
  once the VLM has answered.
- A VLM message takes the camera's `end_ts`, `end_iso` and `clip` when they are set. If the event has not been
  announced yet (its `new` is still spooled, or held for the verdict), the verdict is only stored, and the
  `new` carries it when it goes out.
- A review message (a person's true or false alarm) is the event's latest state with its `review` set, as an
  `update`; every later message of the event, the camera's and the VLM's, carries that review.

Two more duties for a site of many hosts: a message fenced by a camera's lease (`fence`: the lease key and the
value its writer was started with) is refused, `fenced`, once the lease is another's, before its dedupe key is
spent; and each camera's events that are open (announced, not ended) are kept in `<prefix>:open:<camera>`, so the
host that takes a camera over from a dead one can end them.
"""

from __future__ import annotations

import json

SCRIPT = """
if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[6] then return 'fenced' end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then return false end
local data = ARGV[1]
if ARGV[4] == '1' then
  local msg = cjson.decode(data)
  local raw = redis.call('GET', KEYS[2])
  local prev = nil
  if raw then prev = cjson.decode(raw) end
  local changed = false
  if ARGV[5] == 'review' then
    if prev ~= nil and not prev._unannounced then
      prev.review = msg.review
      prev.state = 'update'
      msg, changed = prev, true
    end
  elseif ARGV[5] == 'vlm' then
    if prev == nil or prev._unannounced then
      msg._unannounced = true
      redis.call('SET', KEYS[2], cjson.encode(msg), 'EX', ARGV[3])
      return 'held'
    end
    for _, field in ipairs({'end_ts', 'end_iso', 'clip'}) do
      if msg[field] == cjson.null and prev[field] ~= nil and prev[field] ~= cjson.null then msg[field] = prev[field] end
    end
    changed = true
  elseif prev ~= nil and prev.vlm ~= nil and prev.vlm ~= cjson.null then
    for _, field in ipairs({'verification', 'risk_level', 'description', 'vlm'}) do msg[field] = prev[field] end
    changed = true
  end
  if prev ~= nil and (msg.review == nil or msg.review == cjson.null)
      and prev.review ~= nil and prev.review ~= cjson.null then
    msg.review = prev.review
    changed = true
  end
  -- re-encoded only when merged: otherwise the message goes out exactly as its writer made it
  if changed then data = cjson.encode(msg) end
  redis.call('SET', KEYS[2], data, 'EX', ARGV[3])
  if ARGV[7] ~= '1' or ARGV[5] ~= 'camera' then
    -- a message of no camera (a test's, a subscriber's), or not the camera's own: no open events to keep
  elseif msg.state == 'end' then
    redis.call('SREM', KEYS[4], msg.event_id)
  elseif msg.state == 'new' then
    redis.call('SADD', KEYS[4], msg.event_id)
    redis.call('EXPIRE', KEYS[4], ARGV[3])
  end
end
local first = false
for i = 5, #KEYS do
  local id = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'data', data)
  if not first then first = id end
end
return first
"""


def event_state_key(prefix: str, event_id: str) -> str:
    return f"{prefix}:event:{event_id}"


def open_events_key(prefix: str, camera: str) -> str:
    return f"{prefix}:open:{camera}"


def script_call(
    prefix: str,
    message_id: str,
    streams,
    data: str,
    maxlen: int,
    ttl_s: int,
    owner: str = "camera",
    fence: tuple[str, str] | None = None,
) -> tuple[list[str], list]:
    """KEYS and ARGV for one message; `owner` "vlm" for a VLM verdict on an event announced by a camera, "review"
    for a person's verdict; `fence`: (lease key, value) the message is refused without."""
    event_id, camera = _ids(data)
    delivered = f"{prefix}:delivered:{message_id}"
    state_key = event_state_key(prefix, event_id) if event_id else delivered
    open_key = open_events_key(prefix, camera) if camera else delivered
    fence_key, fence_value = fence or (delivered, "")
    keys = [delivered, state_key, fence_key, open_key, *streams]
    return keys, [data, maxlen, ttl_s, "1" if event_id else "0", owner, fence_value, "1" if camera else "0"]


def _ids(data: str) -> tuple[str | None, str | None]:
    """An alert's `event_id` and `camera`; health messages have no event (they are published as they are)."""
    try:
        value = json.loads(data)
    except ValueError:
        return None, None
    if not isinstance(value, dict) or not value.get("event_id"):
        return None, None
    camera = value.get("camera")
    return value["event_id"], camera if isinstance(camera, str) else None
