"""Camera section of the YAML: source URL, connection policy, detection, tracking, zones, rules."""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from streamer.config.base import Point, StrictModel, check_url_form
from streamer.config.motion import MotionConfig
from streamer.config.recording import RecordConfig
from streamer.config.rules import RuleConfig
from streamer.config.vlm import WatchConfig
from streamer.redact import redact_url

_LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "srt://")


class SourceKind(str, enum.Enum):
    LIVE = "live"  # cameras and HLS: frames arrive in real time; we may drop, never block the camera
    FILE = "file"  # recordings: every frame is processed, nothing is dropped


def source_kind(url: str) -> SourceKind:
    return SourceKind.LIVE if url.lower().startswith(_LIVE_SCHEMES) else SourceKind.FILE


class ConnectionConfig(StrictModel):
    open_timeout_s: float = Field(10.0, gt=0, le=300, description="Give up opening a stream after this long.")
    read_timeout_s: float = Field(10.0, gt=0, le=300, description="Give up on a blocked read after this long.")
    stall_timeout_min_s: float = Field(
        5.0, gt=0, le=600, description="Watchdog: reconnect when no frame came for max(this, stall_frames / fps)."
    )
    stall_frames: int = Field(50, ge=1, le=10_000)
    reconnect_initial_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(
        3.0,
        gt=0,
        le=3600,
        description="A camera that is down is probed again at least this often (with jitter), so a short outage "
        "costs seconds, not the minutes a growing backoff would.",
    )
    max_attempts: int | None = Field(
        None, ge=1, description="Consecutive failed opens before the camera is marked failed (live: unlimited)."
    )
    queue_size: int = Field(8, ge=1, le=1024, description="Frames buffered between decode and detection.")


class ModelSpec(StrictModel):
    weights: str = Field("yolo26n.pt", min_length=1, description="File in models_dir, a path, or an ultralytics name.")
    classes: list[str] | None = Field(None, description="Class names to keep; all when omitted.")
    confidence: float = Field(0.25, ge=0.0, le=1.0)
    iou: float = Field(0.7, gt=0.0, le=1.0)
    imgsz: int = Field(640, ge=32, le=4096, multiple_of=32, description="Longest side of the model input.")
    run_when: list[str] | None = Field(
        None, description="Extra models: run only on frames where the camera's tracked model saw one of these classes."
    )

    @field_validator("classes", "run_when")
    @classmethod
    def _classes_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("an empty class list keeps nothing; omit the field to keep every class")
        return value


class Backend(str, enum.Enum):
    AUTO = "auto"  # TensorRT or PyTorch fp16 on CUDA; OpenVINO on a CPU; PyTorch as the last resort
    OPENVINO = "openvino"
    ONNXRUNTIME = "onnxruntime"
    PYTORCH = "pytorch"
    TENSORRT = "tensorrt"


class Precision(str, enum.Enum):
    AUTO = "auto"  # fp16 on CUDA, fp32 on a CPU
    FP32 = "fp32"
    FP16 = "fp16"  # CUDA (PyTorch half, TensorRT, ONNX Runtime CUDA); OpenVINO on a CPU computes in f16
    BF16 = "bf16"  # OpenVINO on CPUs with native bfloat16 (AMX, AVX512-BF16): about twice as fast as fp32
    INT8 = "int8"  # OpenVINO, quantised by NNCF on the site's own frames (docs/figures.md#int8 for its agreement)


class DetectConfig(StrictModel):
    fps: float = Field(5.0, gt=0, le=120, description="Frames per second sampled for detection.")
    model: ModelSpec = ModelSpec()
    extra_models: dict[str, ModelSpec] = Field(
        default_factory=dict,
        description="Models run on the same frames, not tracked (for example the fall model); keyed by a name.",
    )
    device: Annotated[
        str,
        Field(
            pattern=r"^(auto|cpu|mps|cuda(:(\d|1[0-5]))?|(\d|1[0-5]))$",
            description="auto, cpu, mps, cuda or cuda:N / N (N 0-15, and a GPU this machine has)",
        ),
    ] = "auto"
    backend: Backend = Field(Backend.AUTO, description="Inference runtime of the shared engine.")
    precision: Precision = Field(Precision.AUTO, description="auto: fp16 on CUDA, fp32 on a CPU.")
    input_size: tuple[int, int] | None = Field(
        None, description="Model input [height, width], multiples of 32; omitted: imgsz fitted to the camera's aspect."
    )
    motion: MotionConfig = MotionConfig()
    skip_nonref_frames: bool | None = Field(
        None,
        description="Where at most every second frame is sampled, do not decode frames no other frame refers "
        "to (B-frames): a sample falling on one is taken from the next decoded frame, at that frame's own time. "
        "Default: on for live sources; off for files, whose every sampled frame stays where it was, run after run.",
    )
    keyframe_s: float = Field(
        5.0,
        gt=0,
        le=600,
        description="With motion gating: the detector also runs this often "
        "on a still scene, so an object that never moves is found and counts stay right.",
    )

    @field_validator("input_size")
    @classmethod
    def _input_multiple_of_32(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and any(side < 32 or side > 4096 or side % 32 for side in value):
            raise ValueError("input_size sides must be multiples of 32 between 32 and 4096")
        return value

    @model_validator(mode="after")
    def _run_when_is_for_extra_models(self) -> "DetectConfig":
        if self.model.run_when is not None:
            raise ValueError("model.run_when applies to extra_models (it names classes of this model)")
        kept = {name.lower() for name in self.model.classes} if self.model.classes else None
        for key, spec in self.extra_models.items():
            missing = [name for name in spec.run_when or () if kept is not None and name.lower() not in kept]
            if missing:
                raise ValueError(
                    f"extra_models.{key}.run_when names {missing}, which model.classes does not keep "
                    f"({', '.join(self.model.classes or ())}): the model would never run"
                )
        return self


class TrackerConfig(StrictModel):
    """ByteTrack parameters; the lost-track buffer is in seconds so it does not depend on the detect fps."""

    track_high_thresh: float = Field(0.25, ge=0, le=1)
    track_low_thresh: float = Field(0.1, ge=0, le=1)
    new_track_thresh: float = Field(0.25, ge=0, le=1)
    track_buffer_s: float = Field(3.0, gt=0, le=600)
    match_thresh: float = Field(0.8, gt=0, le=1)
    fuse_score: bool = True


class ZoneConfig(StrictModel):
    polygon: list[Point] = Field(
        min_length=3,
        max_length=1000,
        description="Vertices in source-frame pixels (0 to 16384, checked against the frame once it is known).",
    )


class CameraConfig(StrictModel):
    url: str = Field(min_length=1, description="rtsp://, rtsps://, http(s):// (HLS) or a video file path.")
    enabled: bool = True
    loop: bool = Field(False, description="Files: start again at the end.")
    realtime: bool = Field(False, description="Files: play at the file's own pace instead of as fast as possible.")
    start_time: datetime | Literal["now"] | None = Field(
        None,
        description="Files: wall-clock time of the first frame (default: creation_time tag, else mtime); "
        "'now' replays the file as a live camera (with realtime: true).",
    )
    connection: ConnectionConfig = ConnectionConfig()
    detect: DetectConfig = DetectConfig()
    tracker: TrackerConfig = TrackerConfig()
    zones: dict[str, ZoneConfig] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(default_factory=list)
    record: RecordConfig = RecordConfig()
    live_every_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="The console's live picture of this camera (an annotated "
        "JPEG in <storage_dir>/live) is refreshed this often; 0: no picture.",
    )
    watch: list[WatchConfig] = Field(
        default_factory=list, description="Open-vocabulary prompts the VLM checks periodically."
    )
    node: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        description="On a site of many hosts: "
        "run this camera only on this host (its --node name); it is offline while that host is.",
    )

    @property
    def kind(self) -> SourceKind:
        return source_kind(self.url)

    @field_validator("url")
    @classmethod
    def _url_form(cls, value: str) -> str:
        if source_kind(value) is SourceKind.LIVE:
            return check_url_form(value)
        return value

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    @model_validator(mode="after")
    def _file_only_options(self) -> "CameraConfig":
        if self.kind is SourceKind.LIVE:
            for name in ("loop", "realtime", "start_time"):
                if getattr(self, name) not in (False, None):
                    raise ValueError(f"'{name}' applies to file sources only, not to {self.safe_url}")
        self._check_rules()
        return self

    def _check_rules(self) -> None:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            for zone in rule.zones_used():
                if zone not in self.zones:
                    known = ", ".join(sorted(self.zones)) or "none defined"
                    raise ValueError(f"rules[{index}] uses zone '{zone}', which is not in zones ({known})")
            for field, model in rule.models_used().items():
                if model not in self.detect.extra_models:
                    known = ", ".join(sorted(self.detect.extra_models)) or "none defined"
                    raise ValueError(f"rules[{index}].{field} '{model}' is not in detect.extra_models ({known})")
            if rule.rule_name in seen:
                raise ValueError(f"rules[{index}]: a second rule named '{rule.rule_name}'; give each a distinct 'name'")
            seen.add(rule.rule_name)

    def points_outside(self, width: int, height: int) -> list[str]:
        """Zones, lines and motion masks with a point past the frame (a polygon drawn for the main stream, say, on a
        sub-stream): they still work, clipped, but most likely not as meant."""

        def outside(points) -> bool:
            return any(x > width or y > height for x, y in points)

        found = [f"zones.{name}" for name, zone in self.zones.items() if outside(zone.polygon)]
        found += [f"rules[{index}]" for index, rule in enumerate(self.rules) if outside(rule.points())]
        found += [
            f"detect.motion.masks[{index}]" for index, mask in enumerate(self.detect.motion.masks) if outside(mask)
        ]
        return found

    def with_url(self, url: str) -> "CameraConfig":
        return self.model_copy(update={"url": url})

    def file_path(self) -> Path:
        return Path(self.url.removeprefix("file://"))
