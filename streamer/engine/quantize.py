"""INT8 for OpenVINO: NNCF's post-training quantisation (what ultralytics' `int8=True` export runs), calibrated on the
user's own frames, never a downloaded data set: a few hundred frames sampled evenly from the cameras' recordings,
their files or the sample video. A quarter of the sampled frames is held out, and the quantised model's boxes are
compared with fp32's on them before the export is cached; the agreement is logged and kept beside the export."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamer.engine.agreement import BoxAgreement
from streamer.engine.export import ExportError, ExportKey, cached_artifact, key_json, locked
from streamer.engine.geometry import InputGeometry

log = logging.getLogger("streamer.engine")

CALIBRATION_FRAMES = 300  # what NNCF and ultralytics recommend
HELD_OUT_EVERY = 4  # every 4th sampled frame is kept for the agreement check, never calibrated on
MAX_SOURCES = 24  # the newest recordings are enough; decoding a month of them is not


class CalibrationError(ExportError):
    pass


@dataclass(frozen=True)
class CalibrationSet:
    frames: list[np.ndarray]  # letterboxed BGR uint8, as the engine hands frames to the runtime
    held_out: list[np.ndarray]
    sources: tuple[str, ...]


AgreementCheck = Callable[[Path, list[np.ndarray]], BoxAgreement]  # (the int8 export, held-out frames)


def sample_frames(sources: Sequence[Path], imgsz: int, count: int = CALIBRATION_FRAMES) -> CalibrationSet:
    """`count` calibration frames and a held-out quarter on top, spread evenly over the sources in order."""
    import av

    usable = [path for path in sources if path.is_file()][:MAX_SOURCES]
    if not usable:
        raise CalibrationError(
            "int8 needs frames of the site to calibrate on: no recording, file camera or sample "
            "video was found (record some video first, or name files in engine.calibration)"
        )
    wanted = count + count // (HELD_OUT_EVERY - 1)
    per_source = -(-wanted // len(usable))
    geometry = InputGeometry(imgsz)
    sampled: list[np.ndarray] = []
    used = []
    for path in usable:
        try:
            picked = _evenly(path, per_source, av)
        except (av.FFmpegError, OSError) as error:
            log.warning("calibration source skipped", extra={"fields": {"file": path.name, "error": str(error)}})
            continue
        sampled.extend(geometry.letterbox(image) for image in picked)
        used.append(str(path))
    if len(sampled) < HELD_OUT_EVERY * 2:
        raise CalibrationError(f"int8 calibration found only {len(sampled)} frames in {len(usable)} file(s)")
    held_out = sampled[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY]
    frames = [image for index, image in enumerate(sampled) if index % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    return CalibrationSet(frames[:count], held_out, tuple(used))


def _evenly(path: Path, count: int, av) -> list[np.ndarray]:  # noqa: ANN001 (av is imported by the caller)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        if not total:  # no count in the header: decode once to learn it
            total = sum(1 for _ in container.demux(stream) if _.size)
            container.seek(0)
        step = max(1, total // max(1, count))
        stream.thread_type = "AUTO"
        return [
            frame.to_ndarray(format="bgr24")
            for index, frame in enumerate(container.decode(stream))
            if index % step == 0
        ][:count]


def quantized_export(
    fp32_dir: Path, key: ExportKey, cache_dir: Path, sources: Sequence[Path], check: AgreementCheck
) -> tuple[Path, bool]:
    """The cached INT8 model for `key` (made from the fp32 export in `fp32_dir`), and whether it was made now."""
    folder = cache_dir / key.folder_name(fp32_dir.name.removesuffix("_openvino_model"))
    with locked(folder):
        artifact = cached_artifact(folder, key)
        if artifact is not None:
            return artifact, False
        shutil.rmtree(folder, ignore_errors=True)
        calibration = sample_frames(sources, max(key.imgsz))
        log.info(
            "quantising to int8",
            extra={
                "fields": {
                    "model": fp32_dir.name,
                    "frames": len(calibration.frames),
                    "sources": len(calibration.sources),
                }
            },
        )
        artifact = folder / fp32_dir.name.replace("_openvino_model", "_int8_openvino_model")
        quantize(fp32_dir, calibration.frames, artifact)
        agreement = check(artifact, calibration.held_out)
        level = logging.INFO if agreement.pct >= 97.0 else logging.WARNING
        log.log(
            level,
            "int8 boxes against fp32 on held-out frames",
            extra={"fields": {"model": fp32_dir.name, **agreement.as_dict()}},
        )
        entry = {
            "key": key_json(key),
            "artifact": artifact.name,
            "agreement": agreement.as_dict(),
            "calibration": {
                "frames": len(calibration.frames),
                "held_out": len(calibration.held_out),
                "sources": list(calibration.sources),
            },
        }
        (folder / "entry.json").write_text(json.dumps(entry, indent=2), encoding="utf-8")
        return artifact, True


def recorded_agreement(artifact: Path) -> dict | None:
    """The agreement measured when an int8 export was made (None for any other export)."""
    try:
        entry = json.loads((artifact.parent / "entry.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry.get("agreement")


def quantize(fp32_dir: Path, frames: list[np.ndarray], out_dir: Path) -> None:
    """NNCF as ultralytics' exporter calls it: mixed preset, the detection head's decoding left in floating point.
    Of the variants tried (docs/figures.md#int8) this kept the most boxes; NNCF's slower bias correction, other
    range estimators and the symmetric preset kept fewer on camera-like frames."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(next(fp32_dir.glob("*.xml")))
    dataset = nncf.Dataset(frames, _model_input)
    nncf.set_log_level(logging.WARNING)  # NNCF lists every op it leaves alone, on stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):  # and draws progress bars there: stdout belongs to the caller
            quantized = nncf.quantize(
                model,
                dataset,
                preset=nncf.QuantizationPreset.MIXED,
                subset_size=len(frames),
                ignored_scope=_head_decoding(model, nncf),
            )
    except Exception as error:  # NNCF raises whatever its backends raise
        raise ExportError(f"cannot quantise {fp32_dir.name} to int8: {error}") from None
    out_dir.mkdir(parents=True)
    ov.save_model(quantized, out_dir / f"{fp32_dir.name.removesuffix('_openvino_model')}.xml", compress_to_fp16=False)
    if (fp32_dir / "metadata.yaml").exists():
        shutil.copyfile(fp32_dir / "metadata.yaml", out_dir / "metadata.yaml")


def _model_input(image: np.ndarray) -> np.ndarray:
    """A letterboxed BGR frame as the fp32 export takes it: RGB, NCHW, 0…1."""
    return np.ascontiguousarray(image[None, ..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255)


def _head_decoding(model, nncf):  # noqa: ANN001, ANN202 (openvino and nncf are imported by the caller)
    """The ops after the head's convolutions (box decoding, sigmoid, concat): quantising them moves every box."""
    operations = model.get_ordered_ops()
    sigmoids = [op.get_friendly_name() for op in operations if op.get_type_name() == "Sigmoid"]
    if not sigmoids:
        return None
    head = sigmoids[-1].split("/", 1)[0]
    return nncf.IgnoredScope(
        names=[
            op.get_friendly_name()
            for op in operations
            if op.get_type_name() == "Sigmoid" or op.get_friendly_name().startswith((f"{head}/", f"{head}.dfl"))
        ]
    )
