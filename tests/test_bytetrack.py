"""The worker's numpy ByteTrack and letterbox against ultralytics' own, on real detections of real video.

The worker no longer imports ultralytics (nor torch through it); these prove it lost nothing: the same track ids for
the same detections, frame by frame, on the sample street and on the walking people, with the default settings and
with ones that exercise the low-score pass, lost tracks coming back and tracks being removed; and the same pixels
going into the model."""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from streamer.detect.bytetrack import ByteTracker, ByteTrackSettings
from streamer.engine.geometry import InputGeometry
from testkit.walkers import walkers_clip

FRAMES = 120


def _frames(path, every: int = 1) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    return frames[::every][:FRAMES]


@pytest.fixture(scope="module")
def recorded_detections(models_dir, bikes_mp4, tmp_path_factory) -> dict[str, list[np.ndarray]]:
    """Per clip, each frame's detections as (x1, y1, x2, y2, score, class) rows, at a low confidence so the
    low-score pass has work."""
    from ultralytics import YOLO

    model = YOLO(str(models_dir / "yolo26n.pt"))
    clips = {
        "bikes": _frames(bikes_mp4),
        "walkers": _frames(walkers_clip(tmp_path_factory.mktemp("walkers"), bikes_mp4, seconds=12.0)),
    }
    found = {}
    for name, frames in clips.items():
        found[name] = [
            model.predict(frame, conf=0.05, verbose=False)[0].boxes.data.numpy().astype(np.float32) for frame in frames
        ]
    return found


def _ultralytics_tracks(
    detections: list[np.ndarray], settings: ByteTrackSettings, shape
) -> list[list[tuple[int, int]]]:
    from ultralytics.engine.results import Boxes
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import IterableSimpleNamespace

    tracker = BYTETracker(IterableSimpleNamespace(tracker_type="bytetrack", **vars(settings)))
    out = []
    for rows in detections:
        tracks = tracker.update(Boxes(rows, shape))
        out.append([(int(t[7]), int(t[4])) for t in tracks])
    return out


def _our_tracks(detections: list[np.ndarray], settings: ByteTrackSettings) -> list[list[tuple[int, int]]]:
    tracker = ByteTracker(settings)
    return [tracker.update(rows[:, :4], rows[:, 4], rows[:, 5]) for rows in detections]


SETTINGS = {
    "defaults": ByteTrackSettings(),
    "short memory": ByteTrackSettings(track_buffer=3, match_thresh=0.7),  # tracks lost, removed, ids renewed
    "strict": ByteTrackSettings(track_high_thresh=0.5, track_low_thresh=0.2, new_track_thresh=0.6, fuse_score=False),
}


@pytest.mark.parametrize("setting", SETTINGS)
def test_same_tracks_as_ultralytics_bytetrack(recorded_detections, setting) -> None:
    settings = SETTINGS[setting]
    for clip, detections in recorded_detections.items():
        # every other frame too: a camera detecting at a lower fps than the file's gives the tracker bigger steps
        for every in (1, 2):
            rows = detections[::every]
            theirs = _ultralytics_tracks(rows, settings, (576, 768))
            ours = _our_tracks(rows, settings)
            assert sum(len(frame) for frame in theirs) > len(rows) // 2, f"{clip}: too few tracks to compare"
            for n, (a, b) in enumerate(zip(theirs, ours)):
                assert a == b, f"{clip} ({setting}, every {every}): frame {n} differs: ultralytics {a}, ours {b}"
    reuse = ByteTracker(settings)
    first = [reuse.update(r[:, :4], r[:, 4], r[:, 5]) for r in recorded_detections["bikes"][:30]]
    reuse.reset()  # a reconnect: ids start again at 1 and the same detections give the same tracks
    assert [reuse.update(r[:, :4], r[:, 4], r[:, 5]) for r in recorded_detections["bikes"][:30]] == first


def test_no_detections_and_degenerate_boxes() -> None:
    tracker = ByteTracker(ByteTrackSettings())
    assert tracker.update(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)) == []
    flat = np.array([[10, 10, 50, 10], [10, 10, 10, 80], [100, 100, 140, 200]], dtype=np.float32)  # zero height/width
    scores, classes = np.array([0.9, 0.9, 0.9], np.float32), np.zeros(3, np.float32)
    assert tracker.update(flat, scores, classes) == []  # after the first frame a new track waits to be seen again
    assert tracker.update(flat, scores, classes) == [(2, 1)]


@pytest.mark.parametrize("size", [(272, 640), (576, 768), (1080, 1920), (501, 333), (480, 640), (100, 1000)])
def test_letterbox_gives_ultralytics_pixels(size) -> None:
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(size[0])
    image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    fitted, fixed = InputGeometry(640), InputGeometry(640, (384, 640))
    assert np.array_equal(fitted.letterbox(image), LetterBox((640, 640), auto=True, stride=32)(image=image))
    assert np.array_equal(fixed.letterbox(image), LetterBox((384, 640), auto=False, stride=32)(image=image))
    assert np.array_equal(InputGeometry(320).letterbox(image), LetterBox((320, 320), auto=True, stride=32)(image=image))


def test_a_camera_worker_does_not_import_torch() -> None:
    """What the process-per-camera worker imports (the engine runs the models elsewhere): no torch, no ultralytics."""
    code = (
        "import sys, streamer.runtime.process, streamer.runtime.worker, streamer.detect.tracker; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'ultralytics', 'torchvision'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
