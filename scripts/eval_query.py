"""Evaluation of `streamer query` on recordings with known events. Prints JSON.

Builds small sets of clips with events at known times (a real person photo over a real street frame, written
with PyAV: a fall, a line crossing, a zone entry, and a walker on a camera without rules), records them with
`streamer run` itself (the real detector, tracker, rules and recorder), then asks a fixed list of questions:
several phrasings per event, presence questions, and questions that have no answer. Answers come from the index
alone (no VLM weights can run here). Figures:

- top1_hit_rate: the first hit is the asked event (camera and type) within `--tolerance-s` of the truth;
- time_error_s: median and p90 of |first hit's start − truth| over the questions whose first hit is the event;
- false_answers: questions without an answer that got a hit anyway;
- ask_ms: median time of one question once the embedding model is loaded.

Usage: python scripts/eval_query.py [--sets 2] [--min-hit-rate 0.8] [--max-false-answers 0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamer import assets
from streamer.config import load_config
from streamer.query.service import QueryService
from testkit.query_scenes import build

QUESTIONS: dict[str, list[str]] = {
    "fall": [
        "when did the person fall",
        "did anyone fall down",
        "show me when someone collapsed",
        "when did somebody fall over on the lobby camera",
        "find the fall",
        "has somebody tripped",
        "was anyone lying on the ground",
    ],
    "line_crossing": [
        "when did someone cross the gate",
        "when did a person cross the gate line",
        "who crossed the gate",
        "when did a pedestrian go through the gate",
    ],
    "zone_intrusion": [
        "when did a person walk into the loading zone",
        "was anyone in the loading zone",
        "when did somebody enter the loading zone",
        "intruder in the loading area",
    ],
    "presence": ["when was a person on the plaza camera", "was anyone seen on the plaza camera"],
}
NO_ANSWER = [
    "when did the red car park",
    "when did a dog bark",
    "was there a fire",
    "when did the truck crash",
    "when did the person fall the day before yesterday",
    "did anyone fall on the plaza camera",
    "was a bicycle in the loading zone",
    "when did someone climb the fence",
    "was a car in the loading zone",
]
SETS = [  # (fall_at s, walking speed px/s): different true times per set
    (3.1, 80.0),
    (2.2, 110.0),
    (4.0, 95.0),
]


def evaluate_set(
    folder: Path, fall_at: float, speed: float, models_dir: Path, bikes: Path, tolerance_s: float
) -> list[dict]:
    recorded = build(folder, models_dir, bikes, fall_at=fall_at, walk_speed=speed)
    truths = {t.type: t for t in recorded.truths}
    service = QueryService(load_config(recorded.config))
    service.ask("warm up the embedding model", export=False)
    rows = []
    for expected, questions in QUESTIONS.items():
        for question in questions:
            rows.append(_ask(service, question, expected, truths, recorded, tolerance_s))
    for question in NO_ANSWER:
        rows.append(_ask(service, question, None, truths, recorded, tolerance_s))
    return rows


def _ask(
    service: QueryService, question: str, expected: str | None, truths: dict, recorded, tolerance_s: float
) -> dict:
    started = time.perf_counter()
    doc = service.ask(question, export=False)
    elapsed_ms = (time.perf_counter() - started) * 1000
    top = doc["hits"][0] if doc["hits"] else None
    row = {
        "question": question,
        "expected": expected,
        "got": None if top is None else f"{top['camera']}/{top['type']}",
        "hits": len(doc["hits"]),
        "ask_ms": round(elapsed_ms, 1),
        "error_s": None,
        "correct": False,
    }
    if expected is None:
        row["correct"] = top is None
        return row
    if expected == "presence":
        camera, kind, truth_ts = "plaza", "presence", recorded.origin_ts + 120
    else:
        camera, kind, truth_ts = truths[expected].camera, expected, truths[expected].start_ts
    if top is not None and top["camera"] == camera and top["type"] == kind:
        row["error_s"] = round(abs(top["start_ts"] - truth_ts), 3)
        row["correct"] = row["error_s"] <= tolerance_s
    return row


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def summary(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["expected"] is not None]
    unanswerable = [r for r in rows if r["expected"] is None]
    errors = [r["error_s"] for r in answerable if r["error_s"] is not None]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "top1_hit_rate": round(sum(r["correct"] for r in answerable) / len(answerable), 3),
        "time_error_s": {
            "median": None if not errors else round(statistics.median(errors), 3),
            "p90": p90(errors),
            "max": max(errors, default=None),
        },
        "false_answers": sum(not r["correct"] for r in unanswerable),
        "ask_ms_median": round(statistics.median(r["ask_ms"] for r in rows), 1),
        "misses": [r for r in rows if not r["correct"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=2, choices=range(1, len(SETS) + 1))
    parser.add_argument("--tolerance-s", type=float, default=1.0)
    parser.add_argument("--min-hit-rate", type=float, default=0.0, help="Exit 1 below this top-1 hit rate.")
    parser.add_argument("--max-false-answers", type=int, default=None, help="Exit 1 above this many false answers.")
    args = parser.parse_args()
    models_dir = REPO / "models"
    for asset in assets.WEIGHTS:
        assets.pull(asset, models_dir)
    bikes, _ = assets.pull(assets.SAMPLES[0], REPO / "data" / "samples")
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="streamer-eval-") as tmp:
        for number, (fall_at, speed) in enumerate(SETS[: args.sets]):
            rows += evaluate_set(Path(tmp) / f"set{number}", fall_at, speed, models_dir, bikes, args.tolerance_s)
    result = {
        "eval": "query",
        "sets": args.sets,
        "tolerance_s": args.tolerance_s,
        "vlm": "none (index only)",
        **summary(rows),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))
    failed = result["top1_hit_rate"] < args.min_hit_rate or (
        args.max_false_answers is not None and result["false_answers"] > args.max_false_answers
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
