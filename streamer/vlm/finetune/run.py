"""One fine-tuning run: the export read and split, the base model measured on the held-out clips, LoRA trained on
the rest, the adapter saved, then loaded from disk the way the VLM stage loads it and measured again. The report
(`finetune.json` beside the adapter) says what was trained on, for how long, and what changed."""

from __future__ import annotations

import gc
import json
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from streamer.config.vlm import SamplingConfig, TransformersConfig
from streamer.vlm.backends.local import TransformersBackend
from streamer.vlm.finetune.examples import training_example
from streamer.vlm.finetune.export import ReviewedClip, read_export, split
from streamer.vlm.finetune.heldout import evaluate_held_out
from streamer.vlm.finetune.lora import LoraSettings, train, with_lora

REPORT = "finetune.json"


def finetune(
    export: Path,
    output: Path,
    model: TransformersConfig,
    sampling: SamplingConfig,
    settings: LoraSettings,
    held_out_fraction: float,
) -> dict:
    clips = read_export(export)
    training, held_out = split(clips, held_out_fraction, settings.seed)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise FileExistsError(f"{output}: not an empty folder; give a new folder for the adapter")
    base_model = model.model_copy(update={"adapter": None})
    backend = TransformersBackend.load(base_model)
    before = evaluate_held_out(backend, held_out, sampling)
    examples = [training_example(backend.processor, clip, sampling) for clip in training]
    tuned = with_lora(backend.model, settings)
    with tempfile.TemporaryDirectory() as scratch:
        run = train(tuned, examples, settings, scratch)
    output.mkdir(parents=True, exist_ok=True)
    tuned.save_pretrained(str(output))
    backend.close()
    del tuned, examples
    gc.collect()
    adapted = TransformersBackend.load(base_model.model_copy(update={"adapter": output}))  # as the stage loads it
    after = evaluate_held_out(adapted, held_out, sampling)
    adapted.close()
    report = {
        "base_model": model.model,
        "adapter": str(output),
        "export": str(export),
        "examples": {"train": _verdicts(training), "held_out": _verdicts(held_out)},
        "held_out_ids": sorted(clip.clip_id for clip in held_out),
        "lora": asdict(settings),
        "pixels_per_frame": {"min": sampling.min_pixels, "max": sampling.max_pixels},
        "training": asdict(run),
        "before": before,
        "after": after,
    }
    (output / REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _verdicts(clips: list[ReviewedClip]) -> dict:
    return {"clips": len(clips), **dict(sorted(Counter(clip.verdict for clip in clips).items()))}
