"""How far two detectors agree on the same frames: a box of one counts as found by the other when the other has a
box of the same class with IoU >= 0.9, counted both ways (the INT8 export against fp32, a runtime against the `.pt`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IOU_AGREE = 0.9


@dataclass(frozen=True)
class BoxAgreement:
    frames: int
    boxes_reference: int
    boxes_candidate: int
    reference_found: int  # reference boxes the candidate also has
    candidate_found: int  # candidate boxes the reference also has

    @property
    def reference_pct(self) -> float:
        return 100.0 * self.reference_found / self.boxes_reference if self.boxes_reference else 100.0

    @property
    def candidate_pct(self) -> float:
        return 100.0 * self.candidate_found / self.boxes_candidate if self.boxes_candidate else 100.0

    @property
    def pct(self) -> float:
        """Both ways together: every box of either side that the other side has, over all boxes of both."""
        total = self.boxes_reference + self.boxes_candidate
        return 100.0 * (self.reference_found + self.candidate_found) / total if total else 100.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "frames": self.frames,
            "boxes_reference": self.boxes_reference,
            "boxes_candidate": self.boxes_candidate,
            "reference_found_pct": round(self.reference_pct, 2),
            "candidate_found_pct": round(self.candidate_pct, 2),
            "agreement_pct": round(self.pct, 2),
        }


def box_agreement(
    reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], iou: float = IOU_AGREE
) -> BoxAgreement:
    """Per frame, (n, 6) arrays of x1 y1 x2 y2 confidence class, in the same pixels."""
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} frames of reference boxes against {len(candidate)}")
    return BoxAgreement(
        len(reference),
        sum(len(r) for r in reference),
        sum(len(c) for c in candidate),
        _found(reference, candidate, iou),
        _found(candidate, reference, iou),
    )


def _found(boxes: Sequence[np.ndarray], others: Sequence[np.ndarray], iou: float) -> int:
    hits = 0
    for rows, other in zip(boxes, others):
        if not len(rows) or not len(other):
            continue
        overlap = _iou(rows[:, :4], other[:, :4])
        same_class = rows[:, 5][:, None] == other[:, 5][None, :]
        hits += int(((overlap >= iou) & same_class).any(axis=1).sum())
    return hits


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
