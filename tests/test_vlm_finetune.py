"""`streamer vlm finetune` end to end on this machine: reviewed events exported by the export's own code, LoRA
trained on the tiny random Qwen2.5-VL (the vision tower frozen), the held-out clips asked as the VLM stage asks
them before and after, and the adapter loaded by the transformers backend from the config. The two classes differ
in colour (tests/helpers/reviewed_set.py says why), so this proves the loop, not what a real model learns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from streamer.config.loader import load_config
from streamer.config.vlm import TransformersConfig
from streamer.vlm.backends import build_backend
from streamer.vlm.backends.adapter import AdapterError, check_fits
from streamer.vlm.backends.local import TransformersBackend
from streamer.vlm.evaluation import ask
from streamer.vlm.finetune.examples import request_for
from streamer.vlm.finetune.export import ExportError, read_export, split
from testkit.tiny_qwen import build_tiny_model, qwen_tokenizer_json
from tests.conftest import REPO
from tests.helpers.reviewed_set import write_reviewed_set

PIXELS = 64 * 28 * 28  # 64 merged patches a frame
STREAMER = [sys.executable, "-m", "streamer"]


@pytest.fixture(scope="module")
def tokenizer() -> Path:
    return qwen_tokenizer_json(REPO / "models" / "test")


def _site(folder: Path, model: Path, bikes_mp4: Path, adapter: Path | None = None) -> Path:
    transformers = {"model": str(model), "device": "cpu", "max_new_tokens": 96}
    if adapter is not None:
        transformers["adapter"] = str(adapter)
    site = {
        "storage_dir": str(folder / "data"),
        "cameras": {"generated": {"url": str(bikes_mp4)}},
        "vlm": {
            "backend": "transformers",
            "transformers": transformers,
            "sampling": {"fps": 2, "min_pixels": PIXELS, "max_pixels": PIXELS},
        },
    }
    path = folder / ("site-adapted.yaml" if adapter else "site.yaml")
    path.write_text(yaml.safe_dump(site), encoding="utf-8")
    return path


def test_reviews_train_an_adapter_that_the_vlm_stage_loads(tmp_path: Path, tokenizer: Path, bikes_mp4: Path) -> None:
    model = build_tiny_model(tmp_path / "tiny", tokenizer, head_std=0.2)
    site = _site(tmp_path, model, bikes_mp4)
    export = write_reviewed_set(tmp_path / "set", load_config(site), bikes_mp4, clips=40)
    adapter = tmp_path / "adapter"
    done = subprocess.run(
        [
            *STREAMER,
            "vlm",
            "finetune",
            str(export),
            "-o",
            str(adapter),
            "-c",
            str(site),
            "--epochs",
            "8",
            "--learning-rate",
            "2e-3",
            "--rank",
            "32",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        "\nfine-tuning figure:",
        json.dumps({key: report[key] for key in ("examples", "training")}),
        "before:",
        report["before"]["verdict_accuracy"],
        report["before"]["by_event_type"]["fall"]["refused_by_parser"],
        "after:",
        report["after"]["verdict_accuracy"],
        report["after"]["by_event_type"]["fall"]["refused_by_parser"],
    )
    assert report["examples"]["train"] == {"clips": 30, "confirmed": 15, "rejected": 15}
    assert report["examples"]["held_out"] == {"clips": 10, "confirmed": 5, "rejected": 5}
    assert report["training"]["steps"] == 30 * 8
    assert report["training"]["last_loss"] < report["training"]["first_loss"]
    # before: random weights answer noise, which the parser refuses: no better than chance
    assert report["before"]["verdict_accuracy"] <= 0.5
    after = report["after"]
    assert after["verdict_accuracy"] >= 0.9, after
    fall = after["by_event_type"]["fall"]
    assert fall["refused"] == 0 and fall["asked_again"] == 0  # every answer parses, at the first asking
    assert fall["start_error_s"]["n"] >= 4 and fall["start_error_s"]["median"] <= 0.5
    assert json.loads((adapter / "finetune.json").read_text()) == report

    # the adapter as a site loads it: vlm.transformers.adapter in the config, through the backend's factory
    adapted = build_backend(load_config(_site(tmp_path, model, bikes_mp4, adapter)).vlm)
    clips = {clip.clip_id: clip for clip in read_export(export)}
    held_out = [clips[name] for name in report["held_out_ids"]]
    sampling = load_config(site).vlm.sampling
    right = sum(
        ask(adapted, request_for(clip, sampling), clip.duration_s).answer.verdict == clip.verdict for clip in held_out
    )
    assert right >= 9

    # an adapter does not fit another base: one error naming the module, not peft's state-dict dump
    other = build_tiny_model(tmp_path / "other", tokenizer, intermediate_size=192)
    with pytest.raises(
        AdapterError,
        match=r"does not fit the base model: model.language_model.layers.0.mlp.down_proj is 192→64 in the base, "
        r"the adapter was trained on input 128",
    ):
        TransformersBackend.load(TransformersConfig(model=str(other), device="cpu", adapter=adapter))


def _line(number: int, verdict: str) -> dict:
    answer = (
        {
            "verdict": "confirmed",
            "events": [
                {
                    "label": "person fall",
                    "start_time": 0.5,
                    "end_time": 1.5,
                    "risk_level": "high",
                    "description": "A person falls.",
                }
            ],
        }
        if verdict == "confirmed"
        else {"verdict": "rejected", "events": []}
    )
    return {
        "id": f"e{number}",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "<video>q"},
            {"role": "assistant", "content": json.dumps(answer)},
        ],
        "videos": [["frames/a.jpg", "frames/b.jpg"]],
        "frame_times_s": [0.0, 0.5],
        "fps": 2.0,
        "event": {"type": "fall"},
    }


def _export(folder: Path, lines: list) -> Path:
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    for name in ("a.jpg", "b.jpg"):
        (folder / "frames" / name).write_bytes(b"jpeg")
    (folder / "train.jsonl").write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return folder


def test_an_export_that_cannot_be_trained_on_gets_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such folder"):
        read_export(tmp_path / "nowhere")
    with pytest.raises(ExportError, match="not a `streamer dataset export` folder: it has no train.jsonl"):
        read_export(tmp_path)
    with pytest.raises(ExportError, match="no reviewed events in it"):
        read_export(_export(tmp_path / "empty", []))
    with pytest.raises(ExportError, match=r"train.jsonl:2: not a conversation"):
        read_export(_export(tmp_path / "broken", [_line(1, "confirmed"), "{not json"]))
    bad_answer = _line(2, "confirmed")
    bad_answer["messages"][2]["content"] = "It falls at 0.5 s."
    with pytest.raises(ExportError, match=r"train.jsonl:1: its answer is not one the VLM stage accepts \(no_json"):
        read_export(_export(tmp_path / "prose", [bad_answer]))
    missing = _line(3, "rejected")
    missing["videos"] = [["frames/a.jpg", "frames/gone.jpg"]]
    with pytest.raises(ExportError, match="frame missing: .*gone.jpg"):
        read_export(_export(tmp_path / "missing", [missing]))

    only_true = read_export(_export(tmp_path / "true", [_line(n, "confirmed") for n in range(5)]))
    with pytest.raises(ExportError, match="all 5 reviewed events are true alarms: .* review some false alarms"):
        split(only_true, 0.25, 0)
    one_false = read_export(
        _export(tmp_path / "one", [_line(n, "confirmed") for n in range(5)] + [_line(9, "rejected")])
    )
    with pytest.raises(ExportError, match="only 1 false alarm: at least 2 of each verdict"):
        split(one_false, 0.25, 0)
    train, held = split(
        read_export(_export(tmp_path / "ok", [_line(n, ("confirmed", "rejected")[n % 2]) for n in range(8)])), 0.25, 0
    )
    assert sorted(c.verdict for c in held) == ["confirmed", "rejected"] and len(train) == 6
    assert not {c.clip_id for c in train} & {c.clip_id for c in held}

    # on the command line: exit 2 and the reason, before any model loads
    done = subprocess.run(
        [*STREAMER, "vlm", "finetune", str(tmp_path / "true"), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "error: all 5 reviewed events are true alarms" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()

    (tmp_path / "taken").write_text("a file")
    done = subprocess.run(
        [*STREAMER, "vlm", "finetune", str(tmp_path / "ok"), "-o", str(tmp_path / "taken")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "not an empty folder; give a new folder" in done.stderr, done.stderr

    (tmp_path / "not-adapter").mkdir()
    with pytest.raises(AdapterError, match="not a LoRA adapter folder"):
        check_fits(None, tmp_path / "not-adapter")
