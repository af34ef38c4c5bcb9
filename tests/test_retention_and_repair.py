"""Retention under a byte budget and by age, and recovery from a recorder killed in the middle of a segment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from streamer.alerts.messages import index_record
from streamer.config.recording import RecordConfig
from streamer.index import db, migrate, store
from streamer.record.export import export_clip
from streamer.record.recorder import Recorder
from streamer.record.retention import DAY_S, Retention
from testkit.alerts import alert
from testkit.waiting import terminate, wait_until
from tests.helpers.clips import constant_rate, write_clip
from tests.helpers.recording import START_TS, decoded_pts, indexed, record

CONFIG = RecordConfig(segment_s=2.0, pre_roll_s=0.5, post_roll_s=0.5, retain_days=7, event_retain_days=30)


def add_event(conn, event_id: str, start: float, end: float, clip: str | None) -> None:
    message = alert(event_id, "end", start, end, camera="cam", kind="fall", clip=clip, snapshot="s.jpg")
    store.record_event(conn, index_record(message, 1, end))


@pytest.fixture()
def storage(tmp_path: Path) -> Path:
    clip = write_clip(tmp_path / "clip.mp4", constant_rate(25, 12.0), keyint=25)
    record(tmp_path / "store", clip, segment_s=2.0)
    storage = tmp_path / "store"
    conn = db.connect(storage)
    exported = export_clip(
        storage, conn, "cam", START_TS + 2.0, START_TS + 3.5, storage / "clips/cam/2026-11-21/e1.mp4"
    )
    add_event(conn, "e1", START_TS + 2.5, START_TS + 3.0, "clips/cam/2026-11-21/e1.mp4")  # needs segment [2, 4) only
    conn.close()
    assert exported.path.is_file()
    return storage


def starts(storage: Path) -> list[int]:
    return [round(s.start_ts - START_TS) for s in indexed(storage)]


def test_byte_budget_deletes_oldest_plain_segments_first_and_keeps_event_clips(storage: Path) -> None:
    segments = indexed(storage)
    assert starts(storage) == [0, 2, 4, 6, 8, 10]
    clip_bytes = (storage / "clips/cam/2026-11-21/e1.mp4").stat().st_size
    in_progress = storage / "recordings/cam/2026-11-21/09/20261121T090012.000Z.mp4.part"
    in_progress.write_bytes(b"x" * 1000)  # a segment being written: not in the index, never touched
    budget = (
        sum(s.bytes for s in (segments[1], segments[4], segments[5])) + clip_bytes + 100
    )  # room for three and the clip
    report = Retention(storage, {"cam": CONFIG}, budget).run_once(now=START_TS + 60)
    assert starts(storage) == [2, 8, 10]  # 0, 4, 6 went (oldest plain first); 2 overlaps the event
    assert report.deleted_segments == 3 and report.deleted_clips == 0 and report.kept_bytes <= budget
    on_disk = sorted(p.name for p in (storage / "recordings").rglob("*.mp4"))
    assert on_disk == sorted(Path(s.path).name for s in indexed(storage))
    assert (storage / "clips/cam/2026-11-21/e1.mp4").is_file() and in_progress.is_file()


def test_age_limits_keep_event_segments_longer(storage: Path) -> None:
    Retention(storage, {"cam": CONFIG}, None).run_once(now=START_TS + 8 * DAY_S)
    assert starts(storage) == [2]  # plain segments past 7 days went; the event's stays for 30
    assert (storage / "clips/cam/2026-11-21/e1.mp4").is_file()
    Retention(storage, {"cam": CONFIG}, None).run_once(now=START_TS + 31 * DAY_S)
    assert starts(storage) == []
    assert not (storage / "clips/cam/2026-11-21/e1.mp4").exists()
    conn = db.connect(storage)
    assert conn.exec_driver_sql("SELECT clip FROM events WHERE event_id = 'e1'").scalar() is None
    conn.close()


RECORD_FOREVER = """
import sys, threading
from pathlib import Path
from streamer.config.cameras import CameraConfig
from streamer.config.recording import RecordConfig
from streamer.record.recorder import Recorder
from streamer.source.reader import VideoSource
config = CameraConfig(url=sys.argv[2], realtime=True, start_time="2026-11-21T09:00:00+00:00",
                      record=RecordConfig(segment_s=60))
recorder = Recorder(Path(sys.argv[1]), "cam", config.record, 0, live=False)
for _ in VideoSource("cam", config, threading.Event(), packet_tap=recorder).frames():
    pass
"""


def test_a_recorder_killed_mid_segment_leaves_nothing_broken_behind(tmp_path: Path, bikes_mp4: Path) -> None:
    storage = tmp_path / "store"
    process = subprocess.Popen(
        [sys.executable, "-c", RECORD_FOREVER, str(storage), str(bikes_mp4)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        part = storage / "recordings/cam/2026-11-21/09/20261121T090000.000Z.mp4.part"
        wait_until(lambda: part.exists() and part.stat().st_size > 150_000, timeout=30)  # past a few fragments
        time.sleep(0.3)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        terminate(process, 5.0)
    garbage = storage / "recordings/cam/2026-11-21/09/20261121T085900.000Z.mp4.part"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000))  # killed before the first fragment
    assert indexed(storage) == []  # nothing was indexed before the kill: rows only name finished files

    recorder = Recorder(storage, "cam", RecordConfig(), 0, live=False)  # a restart repairs before recording
    recorder.close()
    outcomes = {result.path.rsplit("/", 1)[-1]: result.outcome for result in recorder.repaired}
    assert outcomes == {"20261121T090000.000Z.mp4": "repaired", "20261121T085900.000Z.mp4": "removed"}
    assert not list(storage.rglob("*.part"))
    (segment,) = indexed(storage)
    frames = decoded_pts(storage / segment.path)
    assert len(frames) == segment.frames >= 25  # the fragments finished before the kill, every frame playable
    # the row spans the frames kept: first to last, plus one frame (a fragment cut inside a group of pictures, as
    # the one-second fragments are, may leave out a reordered frame or two before the last one it holds)
    span = max(frames) - min(frames) + 1 / 25
    assert segment.start_ts == START_TS and segment.end_ts - segment.start_ts == pytest.approx(span, abs=0.05)
    assert span - len(frames) / 25 < 0.2


def test_index_schema_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    conn = db.connect(tmp_path)
    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert migrate.current(conn) == migrate.head()
    conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")  # a later streamer's revision
    conn.close()
    with pytest.raises(db.IndexVersionError, match="knows up to"):
        db.connect(tmp_path, readonly=True)
    with pytest.raises(db.IndexVersionError, match="knows up to"):
        db.connect(tmp_path)


def test_a_torn_part_beside_a_finished_segment_of_the_same_name_never_replaces_it(storage: Path) -> None:
    """A re-run of the same file killed mid-segment leaves `<name>.mp4.part` next to the first run's finished
    `<name>.mp4`: the restart's repair keeps the longer, finished one (and its row)."""
    (first, *_) = indexed(storage)
    finished = storage / first.path
    whole = decoded_pts(finished)
    with (
        av.open(str(finished)) as src,
        av.open(str(finished) + ".part", "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}) as out,
    ):
        copy = out.add_stream_from_template(src.streams.video[0], opaque=True)
        for index, packet in enumerate(src.demux(video=0)):
            if packet.dts is not None and index < len(whole) // 2:
                packet.stream = copy
                out.mux(packet)
    recorder = Recorder(storage, "cam", CONFIG, 0, live=False)
    recorder.close()
    assert [r.outcome for r in recorder.repaired] == ["dropped (a finished segment of the same name is as long)"]
    assert (
        decoded_pts(finished) == whole
        and not list(storage.rglob("*.part"))
        and not list(storage.rglob("*.repaired.mp4"))
    )
    assert [s.path for s in indexed(storage)][0] == first.path and indexed(storage)[0].frames == first.frames
