"""Which video an int8 model is calibrated on: the site's own, best first. Files named in `engine.calibration`,
then the newest recordings of the engine's cameras, then the cameras' own files, then the sample videos."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from streamer.config.cameras import CameraConfig, SourceKind

NEWEST_PER_CAMERA = 4  # recent footage in every camera's light, not one camera's whole month


def calibration_sources(cameras: Mapping[str, CameraConfig], storage_dir: Path | None, configured: Sequence[Path],
                        models_dir: Path) -> tuple[Path, ...]:
    found: list[Path] = list(configured)
    if storage_dir is not None:
        for name in cameras:
            segments = sorted((storage_dir / "recordings" / name).glob("*/*/*.mp4"), reverse=True)
            found.extend(segments[:NEWEST_PER_CAMERA])
    found.extend(Path(camera.url) for camera in cameras.values() if camera.kind is SourceKind.FILE)
    found.extend(sorted((models_dir.parent / "data" / "samples").glob("*.mp4")))  # where `samples pull` puts them
    unique: dict[Path, None] = dict.fromkeys(path for path in found if path.is_file())
    return tuple(unique)
