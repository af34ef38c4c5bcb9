"""`detect.precision: int8`: NNCF quantisation calibrated on the site's own frames, cached like the other exports,
and boxes that agree with the fp32 `.pt` on frames it was not calibrated on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from streamer.config.cameras import Backend, Precision
from streamer.engine.agreement import box_agreement
from streamer.engine.calibration import calibration_sources
from streamer.engine.geometry import to_source_pixels
from streamer.engine.models import LoadSettings, ModelKey, ModelLoadError, ModelRegistry
from streamer.engine.quantize import CalibrationError, sample_frames
from testkit.walkers import walkers_clip

IMGSZ = (640, 640)


@pytest.fixture(scope="module")
def camera_clip(bikes_mp4: Path) -> Path:
    """A camera's 768x576 view: people walking over a street (the benchmark's clip)."""
    return walkers_clip(Path(__file__).resolve().parent.parent / "data" / "bench", bikes_mp4, seconds=20.0)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, models_dir: Path) -> Path:
    """A cache of its own (the int8 export is made here, not taken from an earlier run), seeded with the fp32
    export it is made from when the models folder has one."""
    cache = tmp_path_factory.mktemp("int8-cache")
    for fp32 in (models_dir / "cache").glob("yolo26n-*-openvino-640x640-b8-fp32-*"):
        if (fp32 / "entry.json").exists():
            shutil.copytree(fp32, cache / fp32.name)
    return cache


def test_int8_is_calibrated_on_the_sites_frames_and_agrees_with_the_fp32_pt(
    camera_clip: Path, cache_dir: Path, models_dir: Path
) -> None:
    weights = models_dir / "yolo26n.pt"
    settings = LoadSettings("cpu", cache_dir, 8, IMGSZ, None, (camera_clip,))
    int8 = ModelRegistry(settings).get(ModelKey(str(weights), Backend.OPENVINO, Precision.INT8))
    assert int8.exported and int8.artifact.name == "yolo26n_int8_openvino_model"
    entry = json.loads((int8.artifact.parent / "entry.json").read_text())
    assert entry["calibration"]["sources"] == [str(camera_clip)]
    assert entry["calibration"]["frames"] >= 40 and entry["calibration"]["held_out"] >= 15
    assert entry["agreement"]["agreement_pct"] >= 95.0  # against fp32 OpenVINO, measured when it was made

    # and measured here against ultralytics' own fp32 `.pt`, on the held-out frames only
    held_out = sample_frames([camera_clip], max(IMGSZ)).held_out
    reference = ModelRegistry(settings).get(ModelKey(str(weights), Backend.PYTORCH, Precision.FP32))
    agreement = box_agreement(reference.detect_each(held_out), int8.detect_each(held_out))
    assert agreement.boxes_reference >= 40
    assert agreement.reference_pct >= 95.0 and agreement.candidate_pct >= 95.0, agreement.as_dict()

    # cached: the next engine loads it without calibrating again
    again = ModelRegistry(settings).get(ModelKey(str(weights), Backend.OPENVINO, Precision.INT8))
    assert not again.exported and again.artifact == int8.artifact
    boxes = again.detect_each(held_out[:1])[0]
    assert len(boxes) and (to_source_pixels(boxes[:, :4], held_out[0].shape[:2], (576, 768)) >= 0).all()


def test_int8_without_any_video_to_calibrate_on_says_so(tmp_path: Path, models_dir: Path) -> None:
    with pytest.raises(CalibrationError, match="int8 needs frames of the site to calibrate on"):
        sample_frames([tmp_path / "missing.mp4"], 640)
    settings = LoadSettings("cpu", tmp_path / "cache", 8, IMGSZ, None, ())
    with pytest.raises(ModelLoadError, match="int8 is made from `.pt` weights for OpenVINO"):
        ModelRegistry(settings).get(ModelKey(str(models_dir / "yolo26n.pt"), Backend.ONNXRUNTIME, Precision.INT8))


def test_calibration_prefers_the_sites_own_video(tmp_path: Path, camera_clip: Path, bikes_mp4: Path) -> None:
    from streamer.config import CameraConfig

    storage, models = tmp_path / "data", tmp_path / "models"
    old, new = (storage / "recordings" / "door" / "2026-12-06" / hour / "seg.mp4" for hour in ("09", "10"))
    for segment in (old, new):
        segment.parent.mkdir(parents=True)
        shutil.copyfile(camera_clip, segment)
    (models.parent / "data" / "samples").mkdir(parents=True, exist_ok=True)
    sample = models.parent / "data" / "samples" / "bikes.mp4"
    shutil.copyfile(bikes_mp4, sample)
    int8 = {"precision": "int8"}
    cameras = {
        "door": CameraConfig.model_validate({"url": "rtsp://127.0.0.1:1/door", "detect": int8}),
        "file": CameraConfig.model_validate({"url": str(camera_clip), "detect": int8}),
    }
    named = tmp_path / "named.mp4"
    shutil.copyfile(camera_clip, named)
    found = calibration_sources(cameras, storage, [named, tmp_path / "gone.mp4"], models)
    assert found == (named, new, old, camera_clip, sample)
    fp32 = {
        name: camera.model_copy(update={"detect": camera.detect.model_copy(update={"precision": "fp32"})})
        for name, camera in cameras.items()
    }
    assert calibration_sources(fp32, storage, [named], models) == ()  # nothing looked for without int8
