#!/usr/bin/env python
"""The VLM stage's own evaluation, printed as one JSON document: per event type, verification precision and recall,
the false alarms `hold` removes and the true events it would suppress, the median and p90 error of the VLM's start
and end times against the truth, the answers the parser refused (by reason), latency and tokens per job.

Clips: `--clips DIR`, a labelled clip set (DIR/clips.yaml, format in docs/vlm.md), or by default a generated set with
known truth (a real person photo over a real street: falls, a person sitting down and one bending, one standing;
entries into a marked area and a passer-by), written to data/eval-vlm/ once.

Backends:
  --backend scripted --answers FILE   the scripted test double: proves the arithmetic, says nothing of a model
  --backend transformers --model DIR  Qwen2.5-VL in-process (a folder or a Hugging Face id in your cache)
  --backend openai --base-url URL --model NAME [--api-key KEY]   any OpenAI-compatible server (vLLM, SGLang)

Usage: .venv/bin/python scripts/eval_vlm.py [--smoke] [--clips DIR] [--backend …]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # testkit: the clips are made with the scene writer the tests use

from streamer.config.vlm import VlmConfig
from streamer.vlm.backends import build_backend
from streamer.vlm.evaluation import ClipSetError, evaluate, load_clip_set
from streamer.vlm.scores import score
from testkit.eval_clips import generated_clip_set

BIKES = REPO / "data" / "samples" / "bikes.mp4"
GENERATED = REPO / "data" / "eval-vlm"
SCRIPTED_ANSWERS = REPO / "configs" / "eval-vlm-scripted-answers.yaml"


def vlm_config(args: argparse.Namespace) -> VlmConfig:
    if args.backend == "scripted":
        return VlmConfig.model_validate({"backend": "scripted", "scripted": {"responses": str(args.answers)}})
    if args.backend == "openai":
        openai = {"base_url": args.base_url, "model": args.model, "api_key": args.api_key, "retries": 1}
        return VlmConfig.model_validate({"backend": "openai", "openai": openai})
    return VlmConfig.model_validate(
        {"backend": "transformers", "transformers": {"model": args.model, "device": args.device}}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--clips", type=Path, help="a labelled clip set: a folder with clips.yaml (default: generated)")
    parser.add_argument("--backend", choices=["scripted", "transformers", "openai"], default="scripted")
    parser.add_argument("--answers", type=Path, default=SCRIPTED_ANSWERS, help="the scripted double's answers")
    parser.add_argument(
        "--model", default="Qwen/Qwen2.5-VL-7B-Instruct", help="transformers: folder or id; openai: served name"
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--smoke", action="store_true", help="the generated set with the scripted double")
    args = parser.parse_args()
    folder = args.clips or generated_clip_set(GENERATED, BIKES)
    try:
        clips = load_clip_set(folder)
        config = vlm_config(args)
    except (ClipSetError, ValueError) as error:
        raise SystemExit(f"eval_vlm: {error}") from None
    backend = build_backend(config)
    space = config.box_space(backend.model_name)
    with tempfile.TemporaryDirectory(prefix="eval-vlm-") as scratch:
        outcomes = list(evaluate(folder, clips, backend, config, Path(scratch), space))
    backend.close()
    report = {
        "backend": args.backend,
        "model": backend.model_name,
        "clip_set": str(folder),
        "sampling_fps": config.sampling.fps,
        **score(outcomes),
        "clips_each": [
            {
                "file": o.clip,
                "happens": o.happens,
                "verdict": o.verdict,
                "refusal": o.refusal,
                "start_error_s": o.start_error_s,
                "latency_s": o.latency_s,
            }
            for o in outcomes
        ],
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
