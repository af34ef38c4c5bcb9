"""Decides which clip each event (and each watch prompt) sends to the VLM, and hands it over once the frames
up to the clip's end have arrived. An event sink of the camera's event stage that also taps its frames (it keeps a
window of them); runs on the live path, so it only copies and enqueues."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from streamer.config.cameras import CameraConfig
from streamer.config.vlm import VlmConfig, WatchConfig
from streamer.events.event import Event, EventState
from streamer.frame import TrackedFrame
from streamer.vlm.frames import FrameRing, SampledFrame
from streamer.vlm.job import JobKind

log = logging.getLogger("streamer.vlm")
MIN_FRAMES = 2  # one temporal patch of Qwen2.5-VL


@dataclass(frozen=True)
class ClipRequest:
    """What the submitter turns into a job: which event, which part of it, and the sampled frames."""

    job_id: str
    kind: JobKind
    event: Event | None
    alert_json: str | None
    watch: WatchConfig | None
    start_ts: float
    end_ts: float
    frames: tuple[SampledFrame, ...] = ()


class VlmSampler:
    """`alert_json` writes the event's alert message as the outbox sends it: a verify job's verdict is merged into
    that message."""

    def __init__(
        self,
        camera: str,
        camera_config: CameraConfig,
        vlm: VlmConfig,
        submit: Callable[[ClipRequest], None],
        alert_json: Callable[[Event], str],
        on_close: Callable[[], None] | None = None,
    ):
        self.camera = camera
        self.vlm = vlm
        self.sampling = vlm.sampling
        self.submit = submit  # must not block
        self.alert_json = alert_json
        self._on_close = on_close
        keep = self.sampling.max_window_s + self.sampling.pre_s + self.sampling.post_s + 2.0
        self.ring = FrameRing(self.sampling, keep)
        self.watches = list(camera_config.watch)
        self._next_watch: dict[str, float] = {}
        self._waiting: list[ClipRequest] = []
        self._seen_until: dict[str, float] = {}  # event id → end of the clip its `new` job covers

    def add_frame(self, tracked: TrackedFrame) -> None:
        self.ring.add(tracked)
        now = tracked.frame.wall_ts
        self._schedule_watches(now)
        ready = [r for r in self._waiting if r.end_ts <= now]
        if ready:
            self._waiting = [r for r in self._waiting if r.end_ts > now]
            for request in ready:
                self._hand_over(request)

    def on_events(self, events: list[Event], tracked: TrackedFrame | None) -> None:
        for event in events:
            if self.vlm.verifies(event.type):
                self._ask_about(event)

    def _ask_about(self, event: Event) -> None:
        s = self.sampling
        if event.state is EventState.NEW:
            end = max(event.observed_ts, event.start_ts) + s.post_s
            start = max(event.start_ts - s.pre_s, end - s.max_window_s)
            self._seen_until[event.event_id] = end
            self._waiting.append(
                ClipRequest(f"{event.event_id}-new", JobKind.VERIFY, event, self.alert_json(event), None, start, end)
            )
        elif event.state is EventState.END and event.end_ts is not None:
            seen = self._seen_until.pop(event.event_id, None)
            end = event.end_ts + s.post_s
            if seen is not None and end <= seen + 1.0 / s.fps:
                return  # the `new` job's clip already showed the whole event
            start = max(event.start_ts - s.pre_s, end - s.max_window_s)
            self._waiting.append(
                ClipRequest(f"{event.event_id}-end", JobKind.VERIFY, event, self.alert_json(event), None, start, end)
            )

    def close(self) -> None:
        """The stream is over: send what waits with the frames there are."""
        for request in self._waiting:
            self._hand_over(request)
        self._waiting = []
        if self._on_close is not None:
            self._on_close()

    def _schedule_watches(self, now: float) -> None:
        for watch in self.watches:
            due = self._next_watch.setdefault(watch.name, now + watch.window_s)
            if now >= due:
                self._next_watch[watch.name] = due + watch.every_s
                job_id = f"{self.camera}-watch-{watch.name}-{round(due * 1000)}"
                self._hand_over(ClipRequest(job_id, JobKind.WATCH, None, None, watch, due - watch.window_s, due))

    def _hand_over(self, request: ClipRequest) -> None:
        frames = self.ring.window(request.start_ts, request.end_ts)
        if len(frames) < MIN_FRAMES:
            log.warning(
                "too few frames for a VLM clip; not sent",
                extra={"fields": {"camera": self.camera, "job": request.job_id, "frames": len(frames)}},
            )
            return
        self.submit(replace(request, frames=tuple(frames)))
