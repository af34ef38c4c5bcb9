"""Time helpers of the source: PTS sampling and wall-clock anchoring."""

from __future__ import annotations

from dataclasses import dataclass


class FpsSampler:
    """Keeps frames whose PTS reach the next due time, so the kept rate is the detect fps on average
    whatever the stream's (variable) frame rate; frames it rejects are never converted to pixels."""

    _EPSILON_S = 1e-4  # float PTS of a frame exactly on the grid must not be skipped

    def __init__(self, fps: float):
        self.interval = 1.0 / fps
        self._next_due: float | None = None
        self._last_pts: float | None = None

    def take(self, pts_s: float) -> bool:
        backwards = self._last_pts is not None and pts_s < self._last_pts
        self._last_pts = pts_s
        if self._next_due is None or backwards:
            self._next_due = pts_s + self.interval
            return True
        if pts_s + self._EPSILON_S < self._next_due:
            return False
        # after a gap, restart the grid at this frame instead of bursting to catch up
        behind = pts_s - self._next_due >= self.interval
        self._next_due = (pts_s if behind else self._next_due) + self.interval
        return True


@dataclass
class LiveClock:
    """Receive time anchored once per connection, then advanced by PTS so network jitter does not bend time."""

    anchor_wall: float | None = None
    anchor_pts: float = 0.0

    def wall_ts(self, pts_s: float, received_at: float) -> float:
        if self.anchor_wall is None:
            self.anchor_wall, self.anchor_pts = received_at, pts_s
        return self.anchor_wall + (pts_s - self.anchor_pts)


@dataclass
class FileClock:
    """Configured (or tagged) start time of the recording plus the frame's PTS from the stream start;
    each loop of the file continues where the previous one ended."""

    start_ts: float
    origin_pts: float = 0.0
    loop_offset_s: float = 0.0

    def wall_ts(self, pts_s: float, received_at: float = 0.0) -> float:
        return self.start_ts + self.loop_offset_s + (pts_s - self.origin_pts)


@dataclass
class MediaTimeline:
    """Makes a connection's PTS continuous before they become wall-clock time, packet by packet in decode order.

    A jump back (a camera that reset its clock, concatenated files) continues right after the previous frame.
    A jump forward larger than `max_gap_s` is kept for files (the recording has a hole) and, for live
    sources, cut to the real time that passed between the two packets (PTS must not run ahead of the clock)."""

    live: bool
    max_gap_s: float
    offset_s: float = 0.0
    _last_dts: float | None = None
    _last_end: float | None = None  # largest pts seen plus one frame, in continuous time
    _last_received: float | None = None
    _frame_s: float = 0.04

    BACK_TOLERANCE_S = 0.5  # decode-order DTS of a healthy stream never go back this far

    def place(self, pts_s: float, dts_s: float, received_at: float) -> tuple[float, str | None]:
        """The continuous pts for this packet, and the reason when the timeline broke here."""
        jump = None
        if self._last_dts is not None and self._last_end is not None:
            step = dts_s - self._last_dts
            if step < -self.BACK_TOLERANCE_S:
                self.offset_s = self._last_end - pts_s
                jump = f"pts jumped back {-step:.2f}s"
            elif step > self.max_gap_s:
                jump = f"pts jumped forward {step:.2f}s"
                if self.live and self._last_received is not None:
                    real = max(0.0, received_at - self._last_received)
                    if step - real > self.max_gap_s:
                        self.offset_s -= step - max(real, self._frame_s)
                        jump += f" in {real:.2f}s of real time"
            elif step > 0:
                self._frame_s = min(step, 1.0)
        placed = pts_s + self.offset_s
        self._last_dts = dts_s
        self._last_received = received_at
        end = placed + self._frame_s
        self._last_end = end if self._last_end is None or jump else max(self._last_end, end)
        return placed, jump
