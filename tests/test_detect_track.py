"""Real weights on a real video: YOLO26n detects people and cars in bikes.mp4 and ByteTrack keeps their ids."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np
import pytest

from streamer.engine.models import ModelLoadError
from streamer.frame import TrackedFrame
from streamer.runtime.worker import (
    EXIT_CAMERA_FAILED,
    EXIT_CRASHED,
    EXIT_OK,
    CameraWorker,
    WorkerOptions,
    detection_stage,
)
from testkit.sources import camera


class Collect:
    """A worker sink that keeps every tracked frame."""

    def __init__(self, into: list):
        self.into = into

    def __call__(self, tracked) -> None:
        self.into.append(tracked)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def street_run(
    bikes_mp4: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, list[TrackedFrame], Path]:
    out = tmp_path_factory.mktemp("annotated")
    cam = camera(
        str(bikes_mp4),
        start_time="2026-11-21T09:00:00+00:00",
        detect={"fps": 12.5, "model": {"weights": "yolo26n.pt", "classes": ["person", "car", "bicycle"]}},
    )
    tracked: list[TrackedFrame] = []
    worker = CameraWorker(
        "street", cam, WorkerOptions(models_dir, save_annotated=out), threading.Event(), sinks=[Collect(tracked)]
    )
    return worker.run(), tracked, out / "street.mp4"


def test_people_and_cars_are_detected(street_run) -> None:
    code, tracked, _ = street_run
    assert code == EXIT_OK
    assert len(tracked) == 125  # 10 s at 12.5 fps, nothing dropped from a file
    labels = Counter(name for t in tracked for name in t.detections.data["class_name"])
    assert labels["person"] >= 10 and labels["car"] >= 20, labels
    assert set(labels) <= {"person", "car", "bicycle"}  # the class filter holds


def test_track_ids_persist_across_frames(street_run) -> None:
    _, tracked, _ = street_run
    seen: dict[int, list[int]] = defaultdict(list)
    for position, t in enumerate(tracked):
        assert t.detections.tracker_id is not None and len(set(t.detections.tracker_id)) == len(t.detections)
        for track_id in t.detections.tracker_id:
            seen[int(track_id)].append(position)
    longest = max(len(positions) for positions in seen.values())
    assert longest >= 20, {k: len(v) for k, v in seen.items()}  # one object followed for 1.6 s or more
    assert len(seen) < sum(len(t.detections) for t in tracked) / 4  # ids are reused frame to frame, not reissued


def test_frames_carry_pts_and_wall_time(street_run) -> None:
    _, tracked, _ = street_run
    pts = [t.frame.pts_s for t in tracked]
    assert pts == pytest.approx([i * 0.08 for i in range(125)], abs=1e-6)
    start = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc).timestamp()
    assert tracked[10].frame.wall_ts == pytest.approx(start + 0.8, abs=1e-6)


def test_annotated_video_is_written_with_every_detected_frame(street_run) -> None:
    _, tracked, video = street_run
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == len(tracked)
    busiest = max(range(len(tracked)), key=lambda i: len(tracked[i].detections))
    original = tracked[busiest].frame.image[: frames[0].shape[0], : frames[0].shape[1]].astype(int)
    assert np.abs(frames[busiest].astype(int) - original).mean() > 2  # boxes and labels were drawn


def test_unknown_class_names_are_refused_with_the_model_vocabulary(bikes_mp4: Path, models_dir: Path) -> None:
    cam = camera(str(bikes_mp4), detect={"model": {"weights": "yolo26n.pt", "classes": ["persn"]}})
    with pytest.raises(ModelLoadError, match=r"classes \['persn'\] are not in yolo26n.pt \(it knows: person, bicycle"):
        detection_stage("street", cam, WorkerOptions(models_dir), threading.Event(), None).start()


def test_a_file_that_is_not_weights_fails_the_camera_not_the_process(tmp_path: Path, bikes_mp4: Path) -> None:
    bogus = tmp_path / "broken.pt"
    bogus.write_bytes(b"not a checkpoint")
    cam = camera(str(bikes_mp4), detect={"model": {"weights": str(bogus)}})
    worker = CameraWorker("street", cam, WorkerOptions(tmp_path), threading.Event())
    assert worker.run() == EXIT_CAMERA_FAILED
    reason = worker.source.state.reason
    assert worker.source.state.state.value == "failed"
    assert (
        reason.startswith("cannot load model 'broken.pt'") and "\n" not in reason
    )  # one line, not ultralytics' banner


def test_fall_model_runs_on_the_same_frames(bikes_mp4: Path, models_dir: Path) -> None:
    cam = camera(str(bikes_mp4), detect={"fps": 1, "extra_models": {"fall": {"weights": "yolov8-fall.pt"}}})
    tracked: list[TrackedFrame] = []
    CameraWorker("street", cam, WorkerOptions(models_dir), threading.Event(), sinks=[Collect(tracked)]).run()
    assert len(tracked) == 10 and all("fall" in t.extra for t in tracked)
    names = {name for t in tracked for name in t.extra["fall"].data["class_name"]}
    assert names <= {"Normal", "Fall"}


def test_a_bug_in_the_decode_thread_ends_the_worker_as_crashed_so_it_is_restarted(
    bikes_mp4: Path, models_dir: Path
) -> None:
    worker = CameraWorker("street", camera(str(bikes_mp4)), WorkerOptions(models_dir), threading.Event())
    real_frames = worker.source.frames

    def frames_then_bug():
        for count, frame in enumerate(real_frames()):
            if count == 3:
                raise RuntimeError("injected decode bug")
            yield frame

    worker.source.frames = frames_then_bug
    assert worker.run() == EXIT_CRASHED
