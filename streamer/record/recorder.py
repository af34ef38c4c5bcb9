"""A camera's recorder: beside the live path, fed the packets the source already demuxed, writing MP4 segments.

The source never waits for it: a live camera's packets are dropped (until the next keyframe, recorded as a gap)
when the recorder falls behind; a file's packets wait, because files never drop anything.
"""

from __future__ import annotations

import enum
import logging
import math
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av

from streamer.config.recording import RecordConfig, RecordMode
from streamer.core.health import HealthChange, HealthListener
from streamer.core.lifecycle import Transitions
from streamer.index import db, store
from streamer.index.patient import PatientWrites
from streamer.index.rows import GapRow, SegmentRow
from streamer.record.keep import EventWindows
from streamer.record.repair import repair_camera
from streamer.record.segment import REMUX_CODECS, SegmentFile, TranscodedSegmentFile
from streamer.record.transcode import PacketDecoder
from streamer.source.packets import EncodedPacket, StreamTemplate

log = logging.getLogger("streamer.recorder")

QUEUE_PACKETS = 1500  # about a minute of a 25 fps camera
DISK_RECHECK_S = 2.0
DECISION_DELAY_S = 30.0  # `events` mode: rules raise events this late at most (their start is backdated)


class RecorderState(str, enum.Enum):
    WAITING = "waiting"  # no stream yet, or between connections
    RECORDING = "recording"
    PAUSED = "paused"  # disk full or a write failed: packets are dropped and the hole is recorded as a gap
    STOPPED = "stopped"
    FAILED = "failed"


RECORDER_TRANSITIONS: Transitions[RecorderState] = Transitions(
    "recorder",
    {
        RecorderState.WAITING: {
            RecorderState.RECORDING,
            RecorderState.PAUSED,
            RecorderState.STOPPED,
            RecorderState.FAILED,
        },
        RecorderState.RECORDING: {RecorderState.PAUSED, RecorderState.STOPPED, RecorderState.FAILED},
        RecorderState.PAUSED: {RecorderState.RECORDING, RecorderState.STOPPED, RecorderState.FAILED},
        RecorderState.STOPPED: {RecorderState.FAILED},  # its last report failed: the failure is the last word
        RecorderState.FAILED: set(),
    },
)


class Recorder:
    def __init__(
        self,
        storage_dir: Path,
        camera: str,
        config: RecordConfig,
        min_free_bytes: int,
        live: bool,
        on_state: HealthListener | None = None,
        remux_codecs: frozenset[str] = REMUX_CODECS,
        index: db.IndexTarget | None = None,
        file_done: Callable[[str], None] | None = None,
    ):
        self.storage_dir = storage_dir
        self.camera = camera
        self.config = config
        self.min_free_bytes = min_free_bytes
        self.live = live
        self.on_state = on_state
        self.remux_codecs = remux_codecs  # the benchmark passes none, to measure the re-encode path on H.264
        self.state = RecorderState.WAITING
        self.windows = EventWindows(config.pre_roll_s, config.post_roll_s)
        self.index = PatientWrites(index or storage_dir, f"recorder-{camera}")  # index.url: the site's shared index
        self.file_done = file_done or (lambda relative: None)  # a file written in full: the object store's upload list
        self.repaired: list = []
        self.index.write(self._repair)  # now, or once the index answers (the files wait either way)
        self.dropped_packets = 0
        self.segments_written = 0
        self.bytes_written = 0
        self._inbox: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(QUEUE_PACKETS)
        self._resync = False  # decode thread: a packet was dropped, so wait for a keyframe
        self._template: StreamTemplate | None = None
        self._decoder: PacketDecoder | None = None
        self._segment: SegmentFile | None = None
        self._last_end_ts: float | None = None
        self._paused_since: float | None = None
        self._last_disk_check = 0.0
        self._pending: list[SegmentRow] = []  # `events` mode: closed, not yet judged
        self._covered = threading.Condition()
        self.covered_until = -math.inf  # wall clock up to which segments are closed (and, if kept, indexed)
        self.finished = False
        self._thread = threading.Thread(target=self._run, name=f"record-{camera}", daemon=True)
        self._thread.start()

    # --- PacketTap: called from the decode thread ---------------------------------------------------------
    def begin(self, template: StreamTemplate) -> None:
        self._inbox.put(("begin", template))

    def put(self, packet: EncodedPacket) -> None:
        if self.finished:
            return
        if self._resync:
            if not packet.is_keyframe:
                self.dropped_packets += 1
                return
            self._resync = False
            packet = replace(packet, jump=packet.jump or "recorder fell behind; packets dropped")
        if self.live:
            if not self._slots.acquire(blocking=False):
                self.dropped_packets += 1
                self._resync = True
                return
        else:
            while not self._slots.acquire(timeout=1.0):
                if self.finished:
                    return
        self._inbox.put(packet)

    def end(self, reason: str) -> None:
        self._inbox.put(("end", reason))

    # --- for the event stage ------------------------------------------------------------------------------
    def wait_covered(self, ts: float, timeout_s: float) -> bool:
        """Block until the segments up to wall time `ts` are closed, or the recorder has finished."""
        with self._covered:
            return self._covered.wait_for(lambda: self.covered_until >= ts or self.finished, timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        self._inbox.put(None)
        self._thread.join(timeout_s)

    # --- the recorder thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while (item := self._inbox.get()) is not None:
                if isinstance(item, EncodedPacket):
                    try:
                        self._on_packet(item)
                    finally:
                        self._slots.release()
                elif item[0] == "begin":
                    self._on_begin(item[1])
                else:
                    self._close_segment()
            self._close_segment()
            self._judge_pending(math.inf)
            self._set_state(
                RecorderState.STOPPED,
                f"stream over: {self.segments_written} segments, "
                f"{self.bytes_written / 1e6:.1f} MB, {self.dropped_packets} packets dropped",
            )
        except Exception as error:  # a recorder bug must not take the live path down with it
            log.exception("recorder failed", extra={"fields": {"camera": self.camera}})
            self._set_state(RecorderState.FAILED, f"{type(error).__name__}: {error}")
            if self._segment is not None:
                self._segment.abort()
        finally:
            with self._covered:
                self.finished = True
                self._covered.notify_all()
            self.index.close()

    def _repair(self, conn) -> None:
        """What an unclean stop left: torn segments made playable and indexed, finished ones the index missed."""
        self.repaired = repair_camera(self.storage_dir, self.camera, conn)
        for result in self.repaired:
            if result.outcome in ("repaired", "indexed"):
                self.file_done(result.path)

    def _on_begin(self, template: StreamTemplate) -> None:
        self._close_segment()
        self._template = template
        self._decoder = None
        if template.codec not in self.remux_codecs:
            self._decoder = PacketDecoder(template)
            log.warning(
                "recording by re-encoding to H.264: MP4 players do not take %s",
                template.codec,
                extra={"fields": {"camera": self.camera, "codec": template.codec}},
            )

    def _on_packet(self, packet: EncodedPacket) -> None:
        if self._template is None:
            return
        if packet.jump:
            self._close_segment()
            self._gap(packet.wall_ts, packet.jump, always=True)
        if self._paused_since is not None and not self._resume(packet):
            return
        if self._decoder is not None:
            for frame, wall_ts in self._decoder.decode(packet):
                self._write_frame(frame, wall_ts)
            return
        segment = self._segment
        if segment is None or (packet.is_keyframe and packet.wall_ts - segment.start_ts >= self.config.segment_s):
            if not packet.is_keyframe:
                return  # a segment must start with a keyframe
            segment = self._next_segment(
                lambda: SegmentFile(self.storage_dir, self.camera, self._template, packet), packet.wall_ts
            )
            if segment is None:
                return
        if segment.last_dts is not None and packet.dts <= segment.last_dts:
            return  # a repeated or reordered DTS would make the muxer fail: skip the packet, keep the segment
        self._guard(lambda: segment.write(packet), packet.wall_ts)

    def _write_frame(self, frame: av.VideoFrame, wall_ts: float) -> None:
        segment = self._segment
        if segment is None or wall_ts - segment.start_ts >= self.config.segment_s:
            segment = self._next_segment(
                lambda: TranscodedSegmentFile(self.storage_dir, self.camera, self._template, frame, wall_ts), wall_ts
            )
            if segment is None:
                return
        self._guard(lambda: segment.write_frame(frame, wall_ts), wall_ts)  # type: ignore[attr-defined]

    def _next_segment(self, make: Callable[[], SegmentFile], wall_ts: float) -> SegmentFile | None:
        """Close the segment being written, record the hole before this one if any, and open the next."""
        self._close_segment()
        self._gap(wall_ts, "stream restarted")
        free = shutil.disk_usage(self.storage_dir).free
        if free < self.min_free_bytes:
            self._pause(
                wall_ts,
                f"disk full: {free / 1e9:.2f} GB free, below storage.min_free {self.min_free_bytes / 1e9:.2f} GB",
            )
            return None
        try:
            self._segment = make()
        except OSError as error:
            self._pause(wall_ts, f"cannot write: {error}")
            return None
        self._set_state(RecorderState.RECORDING, self._segment.relpath)
        return self._segment

    def _guard(self, write: Callable[[], None], wall_ts: float) -> None:
        try:
            write()
        except OSError as error:  # ENOSPC and friends: the segment is lost up to its last fragment, repair keeps that
            if self._segment is not None:
                self._segment.abort()
                self._segment = None
            self._pause(wall_ts, f"write failed: {error}")

    def _pause(self, wall_ts: float, reason: str) -> None:
        if self._paused_since is None:
            self._paused_since = wall_ts
            self._last_disk_check = time.monotonic()
            log.error("recorder paused: %s", reason, extra={"fields": {"camera": self.camera}})
            self._set_state(RecorderState.PAUSED, reason)

    def _resume(self, packet: EncodedPacket) -> bool:
        if time.monotonic() - self._last_disk_check < DISK_RECHECK_S:
            return False
        self._last_disk_check = time.monotonic()
        if shutil.disk_usage(self.storage_dir).free < self.min_free_bytes:
            return False
        gap = GapRow(self.camera, self._paused_since, packet.wall_ts, "recorder paused: disk full")
        self.index.write(lambda conn: store.insert_gap(conn, gap))
        self._paused_since = None
        self._last_end_ts = packet.wall_ts
        log.info("recorder resumed", extra={"fields": {"camera": self.camera}})
        return True

    def _gap(self, wall_ts: float, reason: str, always: bool = False) -> None:
        """Record the hole between the last closed segment and this packet, when there is one; a PTS jump is
        recorded even when the timeline made it seamless (a jump back), so it can be found later."""
        if self._last_end_ts is not None and (always or wall_ts - self._last_end_ts > min(self.config.max_gap_s, 0.5)):
            gap = GapRow(self.camera, self._last_end_ts, wall_ts, reason)
            self.index.write(lambda conn: store.insert_gap(conn, gap))
            log.info(
                "recording gap",
                extra={
                    "fields": {
                        "camera": self.camera,
                        "seconds": round(wall_ts - self._last_end_ts, 3),
                        "reason": reason,
                    }
                },
            )
        self._last_end_ts = None

    def _close_segment(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            row = segment.close()
        except OSError as error:
            self._pause(segment.end_ts, f"closing a segment failed: {error}")
            return
        if row is None:  # a finished segment of the same name was kept: the index already names it
            self._last_end_ts = segment.end_ts
            self._mark_covered(segment.end_ts)
            return
        self._last_end_ts = row.end_ts
        self.segments_written += 1
        self.bytes_written += row.bytes
        if self.config.mode is RecordMode.EVENTS:
            self._pending.append(row)
            self._judge_pending(row.end_ts - DECISION_DELAY_S)
        else:
            self.index.write(lambda conn: store.insert_segment(conn, row))
            self.file_done(row.path)
        self._mark_covered(row.end_ts)

    def _mark_covered(self, end_ts: float) -> None:
        with self._covered:
            self.covered_until = max(self.covered_until, end_ts)
            self._covered.notify_all()

    def _judge_pending(self, now_ts: float) -> None:
        undecided = []
        for row in self._pending:
            verdict = self.windows.decide(row.start_ts, row.end_ts, now_ts)
            if verdict is None:
                undecided.append(row)
            elif verdict:
                self.index.write(lambda conn, row=row: store.insert_segment(conn, row))
                self.file_done(row.path)
            else:
                (self.storage_dir / row.path).unlink(missing_ok=True)
        self._pending = undecided
        self.windows.forget_before(now_ts - self.config.pre_roll_s)

    def _set_state(self, state: RecorderState, reason: str) -> None:
        if state is self.state:
            return
        RECORDER_TRANSITIONS.check(self.state, state, self.camera)
        self.state = state
        if self.on_state is not None:
            self.on_state(HealthChange(self.camera, "recorder", state.value, reason))
