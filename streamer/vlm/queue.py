"""The job queue on Redis: stream `<prefix>:vlm:jobs`, consumer group `vlm`, at-least-once.

Bounded by the jobs still waiting (not yet taken). When it is full, a new job of an event already waiting
replaces that job; otherwise the lowest-priority waiting job is dropped for a higher-priority one, or the new
job is dropped. Every drop is counted in `<prefix>:vlm:stats`. Taken jobs are acknowledged (and deleted) once
their finding is published; a job taken longer than `claim_idle_s` ago is claimed again by any worker, and
after `max_deliveries` takes it goes to `<prefix>:vlm:dead` with its last error.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import socket
import time

import redis

from streamer.alerts.streams import StreamNames
from streamer.config.vlm import QueueConfig
from streamer.vlm.job import VlmJob

log = logging.getLogger("streamer.vlm")
GROUP = "vlm"
# `streamer vlm stats`: counters since the queue was made (enqueued; coalesced, replaced_lower: a full queue made
# room; dropped_full: a full queue refused a job; done; dead: sent to the dead letters), then the present
# (waiting to be taken, running: taken and not yet acknowledged)
STATS_KEYS = ("enqueued", "coalesced", "replaced_lower", "dropped_full", "done", "dead", "waiting", "running")

_ENQUEUE = """
local stream, waiting, by_event, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local data, event, priority, max_jobs, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function forget(member)
  local id, ev = string.match(member, '^([^|]*)|(.*)$')
  redis.call('XDEL', stream, id)
  redis.call('ZREM', waiting, member)
  if redis.call('HGET', by_event, ev) == member then redis.call('HDEL', by_event, ev) end
end
local outcome = 'queued'
if redis.call('ZCARD', waiting) >= max_jobs then
  local same = redis.call('HGET', by_event, event)
  if same then
    forget(same)
    outcome = 'coalesced'
  else
    local lowest = redis.call('ZRANGE', waiting, 0, 0, 'WITHSCORES')
    if #lowest > 0 and math.floor(tonumber(lowest[2])) < priority then
      forget(lowest[1])
      outcome = 'replaced_lower'
    else
      redis.call('HINCRBY', stats, 'dropped_full', 1)
      return 'dropped'
    end
  end
  redis.call('HINCRBY', stats, outcome, 1)
end
local id = redis.call('XADD', stream, '*', 'job', data)
local member = id .. '|' .. event
-- the score orders by priority, then by age (older first within a priority)
redis.call('ZADD', waiting, priority + now / 1e11, member)
redis.call('HSET', by_event, event, member)
redis.call('HINCRBY', stats, 'enqueued', 1)
return outcome
"""

_TAKEN = """
for i = 1, #ARGV, 2 do
  redis.call('ZREM', KEYS[1], ARGV[i])
  if redis.call('HGET', KEYS[2], ARGV[i + 1]) == ARGV[i] then redis.call('HDEL', KEYS[2], ARGV[i + 1]) end
end
return true
"""


class EnqueueOutcome(enum.StrEnum):
    QUEUED = "queued"
    COALESCED = "coalesced"  # replaced the waiting job of the same event
    REPLACED_LOWER = "replaced_lower"  # the queue was full: a lower-priority waiting job made room
    DROPPED = "dropped"  # the queue was full of jobs at least as important


@dataclasses.dataclass(frozen=True)
class TakenJob:
    entry_id: str
    job: VlmJob | None  # None when the entry cannot be read as a job (it goes to the dead letters)
    raw: str
    attempt: int = 0


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class JobQueue:
    def __init__(self, client: redis.Redis, names: StreamNames, config: QueueConfig):
        self.client = client
        self.config = config
        prefix = names.prefix
        self.stream = names.vlm_jobs
        self.dead_stream = f"{prefix}:vlm:dead"
        self.waiting_key = f"{prefix}:vlm:waiting"
        self.by_event_key = f"{prefix}:vlm:by_event"
        self.stats_key = f"{prefix}:vlm:stats"
        self.attempts_key = f"{prefix}:vlm:attempts"
        self.errors_key = f"{prefix}:vlm:errors"
        self._enqueue = client.register_script(_ENQUEUE)
        self._taken = client.register_script(_TAKEN)

    # -- producer side --------------------------------------------------------------------------------------
    def enqueue(self, job: VlmJob) -> EnqueueOutcome:
        result = self._enqueue(
            keys=[self.stream, self.waiting_key, self.by_event_key, self.stats_key],
            args=[job.to_json(), _queue_key(job), job.priority, self.config.max_jobs, f"{time.time():.3f}"],
        )
        return EnqueueOutcome(result.decode() if isinstance(result, bytes) else str(result))

    # -- worker side ----------------------------------------------------------------------------------------
    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def take(self, consumer: str, count: int, block_ms: int) -> list[TakenJob]:
        """Jobs abandoned by a dead (or failing) worker first, then new ones."""
        claimed = self.client.xautoclaim(
            self.stream, GROUP, consumer, int(self.config.claim_idle_s * 1000), start_id="0-0", count=count
        )
        entries = [e for e in claimed[1] if e and e[1]]
        fresh = not entries
        if fresh:
            reply = self.client.xreadgroup(GROUP, consumer, {self.stream: ">"}, count=count, block=block_ms)
            entries = [e for _, stream_entries in reply or [] for e in stream_entries if e[1]]
        taken = []
        for entry_id, fields in entries:
            entry = entry_id.decode()
            raw = fields.get(b"job", b"").decode(errors="replace")
            attempt = int(self.client.hincrby(self.attempts_key, entry, 1))
            try:
                job = VlmJob.from_json(raw)
            except (ValueError, KeyError, TypeError):
                job = None
            taken.append(TakenJob(entry, job, raw, attempt))
        if fresh:
            self._mark_taken(taken)
        return taken

    def _mark_taken(self, taken: list[TakenJob]) -> None:
        """Off the waiting set (claimed jobs left it when they were first taken)."""
        args: list[str] = []
        for item in taken:
            event = _queue_key(item.job) if item.job is not None else ""
            args += [f"{item.entry_id}|{event}", event]
        if args:
            self._taken(keys=[self.waiting_key, self.by_event_key], args=args)

    def done(self, entry_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, entry_id)
        pipe.xdel(self.stream, entry_id)
        pipe.hdel(self.attempts_key, entry_id)
        pipe.hdel(self.errors_key, entry_id)
        pipe.hincrby(self.stats_key, "done", 1)
        pipe.execute()

    def failed(self, entry_id: str, error: str) -> None:
        """Left pending: it comes back through XAUTOCLAIM after claim_idle_s."""
        self.client.hset(self.errors_key, entry_id, error[:2000])

    def last_error(self, entry_id: str) -> str:
        """What the latest failed try of a job said ('' when none failed)."""
        return (self.client.hget(self.errors_key, entry_id) or b"").decode(errors="replace")

    def bury(self, taken: TakenJob, error: str, tries: int, last_error: str = "") -> None:
        """To the dead letters, then off the queue (one transaction, so it is never in both or neither)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            self.dead_stream,
            {
                "job": taken.raw,
                "entry": taken.entry_id,
                "error": error[:2000],
                "last_error": last_error[:2000],
                "attempts": str(tries),
                "ts": f"{time.time():.3f}",
            },
            maxlen=100_000,
            approximate=True,
        )
        pipe.xack(self.stream, GROUP, taken.entry_id)
        pipe.xdel(self.stream, taken.entry_id)
        pipe.hdel(self.attempts_key, taken.entry_id)
        pipe.hdel(self.errors_key, taken.entry_id)
        pipe.hincrby(self.stats_key, "dead", 1)
        pipe.execute()

    def stats(self) -> dict[str, int]:
        """Every key of STATS_KEYS, 0 until it first happens, so a dashboard or a script can rely on them."""
        counts = dict.fromkeys(STATS_KEYS, 0)
        counts.update({k.decode(): int(v) for k, v in self.client.hgetall(self.stats_key).items()})
        counts["waiting"] = int(self.client.zcard(self.waiting_key))
        try:
            counts["running"] = int(self.client.xpending(self.stream, GROUP)["pending"])
        except redis.ResponseError:  # no group yet
            counts["running"] = 0
        return counts


def _queue_key(job: VlmJob) -> str:
    """What jobs coalesce by: the event (a watch job is its own)."""
    return job.event_id or job.job_id
