"""Which video an int8 model is calibrated on: the site's own, best first. Files named in `engine.calibration`,
then the newest recordings of the engine's cameras, then the cameras' own files, then the sample videos."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from streamer.config.cameras import CameraConfig, Precision, SourceKind

NEWEST_PER_CAMERA = 4  # recent footage in every camera's light, not one camera's whole month


def calibration_sources(
    cameras: Mapping[str, CameraConfig], storage_dir: Path | None, configured: Sequence[Path], models_dir: Path
) -> tuple[Path, ...]:
    """Empty unless a camera asks for int8: an engine's start-up does not look through the recordings for nothing."""
    if not any(camera.detect.precision is Precision.INT8 for camera in cameras.values()):
        return ()
    found: list[Path] = list(configured)
    if storage_dir is not None:
        for name in cameras:
            found.extend(_newest_segments(storage_dir / "recordings" / name, NEWEST_PER_CAMERA))
    found.extend(Path(camera.url) for camera in cameras.values() if camera.kind is SourceKind.FILE)
    found.extend(sorted((models_dir.parent / "data" / "samples").glob("*.mp4")))  # where `samples pull` puts them
    unique: dict[Path, None] = dict.fromkeys(path for path in found if path.is_file())
    return tuple(unique)


def _newest_segments(folder: Path, count: int) -> list[Path]:
    """The newest segments of a camera (<date>/<hour>/<start>.mp4, names that sort by time), newest hour first, so
    a month of recordings is not listed to find four."""
    newest: list[Path] = []
    for day in sorted((p for p in folder.glob("*") if p.is_dir()), reverse=True):
        for hour in sorted((p for p in day.glob("*") if p.is_dir()), reverse=True):
            newest.extend(sorted(hour.glob("*.mp4"), reverse=True)[: count - len(newest)])
            if len(newest) >= count:
                return newest
    return newest
