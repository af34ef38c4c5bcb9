"""Messages between a camera worker and the engine, pickled over a Unix socket. Images never travel here: they
lie in the camera's shared-memory slots, and a request names the slot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.config.cameras import Backend, Precision

TRACKED = ""  # the name of a camera's tracked model among its model uses


@dataclass(frozen=True)
class ModelUse:
    """What one camera asks of one model."""

    name: str  # TRACKED, or the key of detect.extra_models
    weights: str  # resolved path
    backend: Backend
    precision: Precision
    confidence: float
    iou: float
    classes: tuple[str, ...] | None
    run_when: tuple[str, ...] | None = None  # only on frames where the tracked model found one of these


@dataclass(frozen=True)
class EngineLink:
    """Where a camera's engine listens and which slots are the camera's (made by the supervisor)."""

    address: str
    authkey: bytes
    shm_name: str
    slot_bytes: int
    slots: int


@dataclass(frozen=True)
class Hello:
    camera: str
    shm_name: str
    slot_bytes: int
    slots: int
    uses: tuple[ModelUse, ...]


@dataclass(frozen=True)
class Welcome:
    names: dict[str, dict[int, str]]  # per model use: the model's class names
    backends: dict[str, str]  # per model use: the runtime that serves it


@dataclass(frozen=True)
class Refused:
    reason: str  # one line naming the model and the backend; the camera cannot start


@dataclass(frozen=True)
class Infer:
    seq: int
    slot: int
    input_hw: tuple[int, int]  # the letterboxed image in the slot
    frame_hw: tuple[int, int]  # the source frame, for boxes in its pixels


@dataclass(frozen=True)
class Detected:
    seq: int
    boxes: dict[str, np.ndarray | None]  # per model use: (n, 6) x1 y1 x2 y2 conf class in source pixels; None: not run
    wait_ms: float  # from arrival in the engine to the start of its batch
    batch_size: int
