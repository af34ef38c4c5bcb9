"""Run one gathered batch: every model use of every frame, tracked models first, then the extra models on the
frames their `run_when` classes were found in; boxes come back in each frame's source pixels."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from streamer.engine.geometry import to_source_pixels
from streamer.engine.models import LoadedModel, ModelKey, NmsParams
from streamer.engine.protocol import TRACKED


@dataclass(frozen=True)
class BoundUse:
    """A camera's model use with its model loaded and its class names turned into ids."""

    name: str
    model: LoadedModel
    params: NmsParams
    run_when: frozenset[int] | None  # class ids of the tracked model


@dataclass(frozen=True)
class FrameJob:
    image: np.ndarray  # letterboxed BGR
    frame_hw: tuple[int, int]
    uses: Sequence[BoundUse]


Boxes = dict[str, "np.ndarray | None"]
ModelTimer = Callable[[LoadedModel, float], None]  # a model's call on a batch and its seconds (the engine's metrics)


def run_batch(jobs: Sequence[FrameJob], on_call: ModelTimer | None = None) -> list[Boxes]:
    results: list[Boxes] = [{} for _ in jobs]
    _run_uses(jobs, results, lambda use, _: use.run_when is None, on_call)
    _run_uses(
        jobs, results, lambda use, boxes: use.run_when is not None and _saw(boxes.get(TRACKED), use.run_when), on_call
    )
    for job, boxes in zip(jobs, results):
        for use in job.uses:
            boxes.setdefault(use.name, None)  # skipped by run_when
    return results


def _saw(tracked: np.ndarray | None, class_ids: frozenset[int]) -> bool:
    return tracked is not None and any(int(c) in class_ids for c in tracked[:, 5])


def _run_uses(jobs: Sequence[FrameJob], results: list[Boxes], wanted, on_call: ModelTimer | None) -> None:
    groups: dict[tuple[int, tuple[int, ...]], list[tuple[int, BoundUse]]] = defaultdict(list)
    for position, job in enumerate(jobs):
        for use in job.uses:
            if wanted(use, results[position]):
                groups[(id(use.model), job.image.shape)].append((position, use))
    for members in groups.values():
        model = members[0][1].model
        started = time.perf_counter()
        found = model.infer([jobs[p].image for p, _ in members], [use.params for _, use in members])
        if on_call is not None:
            on_call(model, time.perf_counter() - started)
        for (position, use), boxes in zip(members, found):
            job = jobs[position]
            boxes[:, :4] = to_source_pixels(boxes[:, :4], job.image.shape[:2], job.frame_hw)
            results[position][use.name] = boxes


def bind_uses(uses, registry) -> list[BoundUse]:
    """ModelUse → BoundUse through the registry (loads each model once); raises ModelLoadError."""
    bound = []
    tracked_model: LoadedModel | None = None
    for use in uses:
        model = registry.get(ModelKey(use.weights, use.backend, use.precision))
        params = NmsParams(use.confidence, use.iou, model.class_ids(use.classes))
        if use.name == TRACKED:
            tracked_model = model
        run_when = None
        if use.run_when is not None:
            assert tracked_model is not None, "the tracked model comes first"
            run_when = frozenset(tracked_model.class_ids(use.run_when) or ())
        bound.append(BoundUse(use.name, model, params, run_when))
    return bound
