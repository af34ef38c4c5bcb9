"""The config check of `validate-config` for file sources: each enabled camera's file exists and opens as a video
(PyAV reads its header, not its frames). `run` does not ask for it: a bad file there fails its own camera while
the others run."""

from __future__ import annotations

from streamer.config.cameras import SourceKind
from streamer.config.env import Location
from streamer.config.root import StreamerConfig
from streamer.source.opening import SourceOpenError, open_container


def file_sources(config: StreamerConfig) -> list[tuple[Location, str]]:
    issues = []
    for name, camera in config.enabled_cameras().items():
        if camera.kind is not SourceKind.FILE:
            continue
        path = camera.file_path()
        if path.exists() and not path.is_file():
            issues.append((("cameras", name, "url"), f"{path} is a folder, not a video file"))
            continue
        try:
            open_container(camera).close()
        except SourceOpenError as error:
            issues.append((("cameras", name, "url"), str(error)))
    return issues


SOURCE_CHECKS = (file_sources,)
