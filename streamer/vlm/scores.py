"""The VLM stage's own scores over a labelled clip set, per event type: how often its verdict is right, the false
alarms `hold` keeps from being notified, the true events it would suppress, how far its times are from the truth,
how many answers the parser refused, and what a job costs. Pure arithmetic over the outcomes, so that it can be
checked exactly (the scripted test double's answers have known outcomes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["confirmed", "rejected", "refused"]


@dataclass(frozen=True)
class ClipOutcome:
    clip: str
    event_type: str
    happens: bool  # the truth
    verdict: Verdict  # the stage's, after its one retry; refused: no answer it could parse
    refusal: str | None  # the parser's named reason for the last answer refused, if any
    start_error_s: float | None  # |the VLM's start − the true start|, for a confirmed event that happens
    end_error_s: float | None
    latency_s: float  # both attempts, when there were two
    attempts: int
    prompt_tokens: int | None
    completion_tokens: int | None
    vision_tokens: int | None


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p50 of 1, 2, 3, 4 is 2); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return round(ordered[int(rank) - 1], 3)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _median(values: list[int | float | None]) -> float | None:
    """The nearest-rank median of the values known, as every median of this report."""
    return percentile([float(v) for v in values if v is not None], 0.5)


def score_type(outcomes: list[ClipOutcome]) -> dict:
    positives = [o for o in outcomes if o.happens]
    negatives = [o for o in outcomes if not o.happens]
    true_pos = sum(o.verdict == "confirmed" for o in positives)
    false_pos = sum(o.verdict == "confirmed" for o in negatives)
    starts = [o.start_error_s for o in positives if o.start_error_s is not None]
    ends = [o.end_error_s for o in positives if o.end_error_s is not None]
    return {
        "clips": len(outcomes),
        "happens": len(positives),
        "does_not_happen": len(negatives),
        "confirmed": sum(o.verdict == "confirmed" for o in outcomes),
        "rejected": sum(o.verdict == "rejected" for o in outcomes),
        "refused": sum(o.verdict == "refused" for o in outcomes),
        # of the events confirmed, how many happened; of those that happened, how many were confirmed
        "precision": _ratio(true_pos, true_pos + false_pos),
        "recall": _ratio(true_pos, len(positives)),
        # `vlm.hold` keeps a rejected event from notifying: a false alarm removed, or a true event suppressed
        "false_alarms_removed_by_hold": sum(o.verdict == "rejected" for o in negatives),
        "false_alarms_left": false_pos,
        "alerts_wrongly_suppressed": sum(o.verdict == "rejected" for o in positives),
        "start_error_s": {"median": percentile(starts, 0.5), "p90": percentile(starts, 0.9), "n": len(starts)},
        "end_error_s": {"median": percentile(ends, 0.5), "p90": percentile(ends, 0.9), "n": len(ends)},
        "refused_by_parser": dict(sorted(Counter(o.refusal for o in outcomes if o.refusal).items())),
        "asked_again": sum(o.attempts > 1 for o in outcomes),
        "latency_s": {
            "median": percentile([o.latency_s for o in outcomes], 0.5),
            "p90": percentile([o.latency_s for o in outcomes], 0.9),
        },
        "tokens_per_job": {
            "prompt": _median([o.prompt_tokens for o in outcomes]),
            "completion": _median([o.completion_tokens for o in outcomes]),
            "vision": _median([o.vision_tokens for o in outcomes]),
        },
    }


def score(outcomes: list[ClipOutcome]) -> dict:
    """Per event type, and the verdict accuracy over all clips (confirmed when it happens, rejected when not)."""
    types = sorted({o.event_type for o in outcomes})
    right = sum((o.verdict == "confirmed") == o.happens and o.verdict != "refused" for o in outcomes)
    return {
        "clips": len(outcomes),
        "verdict_accuracy": _ratio(right, len(outcomes)),
        "by_event_type": {t: score_type([o for o in outcomes if o.event_type == t]) for t in types},
    }
