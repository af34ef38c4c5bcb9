"""The VLM stage's evaluation (streamer/vlm/evaluation.py, scripts/eval_vlm.py) on the generated clip set with known
truth. The scripted test double's answers have known outcomes, so its scores are checked exactly: this proves the
arithmetic, not any model. The tiny random Qwen2.5-VL runs the real transformers path through it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamer.config.vlm import SamplingConfig, TransformersConfig, VlmConfig
from streamer.vlm.backends.local import TransformersBackend
from streamer.vlm.backends.scripted import ScriptedTestDouble
from streamer.vlm.evaluation import ClipSetError, LabelledClip, evaluate, load_clip_set
from streamer.vlm.frames import model_size
from streamer.vlm.scores import percentile, score
from testkit.eval_clips import generated_clip_set
from testkit.tiny_qwen import build_tiny_model, qwen_tokenizer_json
from tests.conftest import REPO

ANSWERS = REPO / "configs" / "eval-vlm-scripted-answers.yaml"


@pytest.fixture(scope="module")
def clip_set(tmp_path_factory, bikes_mp4: Path) -> Path:
    return generated_clip_set(tmp_path_factory.mktemp("eval-clips"), bikes_mp4)


def _run(folder: Path, backend, config: VlmConfig, scratch: Path, clips: list[LabelledClip] | None = None) -> dict:
    return score(list(evaluate(folder, clips or load_clip_set(folder), backend, config, scratch, "input_pixels")))


def test_the_scores_of_answers_with_known_outcomes(clip_set: Path, tmp_path: Path) -> None:
    config = VlmConfig.model_validate({"backend": "scripted", "scripted": {"responses": str(ANSWERS)}})
    report = _run(clip_set, ScriptedTestDouble.from_file(ANSWERS), config, tmp_path)
    fall, zone = report["by_event_type"]["fall"], report["by_event_type"]["zone_intrusion"]
    # falls: 2 falls confirmed, the sitting lookalike confirmed, the bending one rejected, prose twice refused
    assert (fall["happens"], fall["confirmed"], fall["rejected"], fall["refused"]) == (2, 3, 1, 1)
    assert (fall["precision"], fall["recall"]) == (0.667, 1.0)
    assert (fall["false_alarms_removed_by_hold"], fall["false_alarms_left"], fall["alerts_wrongly_suppressed"]) == (
        1,
        1,
        0,
    )
    assert fall["refused_by_parser"] == {"no_json": 1} and fall["asked_again"] == 1
    # 2.0 s on time and 3.0 s against 3.5 s; the ends 2.5 and 4.0 land on the frames taken at 2.48 and 4.0
    assert fall["start_error_s"] == {"median": 0.0, "p90": 0.5, "n": 2}
    assert fall["end_error_s"] == {"median": 0.1, "p90": 0.12, "n": 2}
    # zones: one entry confirmed 0.5 s late (at the frame taken 3.48 s in), the passer-by rejected, an entry rejected
    assert (zone["precision"], zone["recall"], zone["alerts_wrongly_suppressed"]) == (1.0, 0.5, 1)
    assert zone["start_error_s"]["median"] == 0.48
    assert report["verdict_accuracy"] == 0.625  # 5 of 8 right: the refused one counts as not right


def test_the_tiny_model_runs_the_real_path_through_the_evaluation(clip_set: Path, tmp_path: Path) -> None:
    folder = build_tiny_model(tmp_path / "tiny", qwen_tokenizer_json(REPO / "models" / "test"))
    backend = TransformersBackend.load(TransformersConfig(model=str(folder), device="cpu", max_new_tokens=16))
    config = VlmConfig.model_validate({"backend": "transformers", "transformers": {"model": str(folder)}})
    clips = load_clip_set(clip_set)[:2]
    report = _run(clip_set, backend, config, tmp_path / "scratch", clips)["by_event_type"]["fall"]
    # random weights answer noise: refused with a named reason, asked again once, never guessed
    assert report["refused"] == 2 and report["asked_again"] == 2 and sum(report["refused_by_parser"].values()) == 2
    tokens = report["tokens_per_job"]
    width, height = model_size(640, 360, SamplingConfig())  # 560×252: 40×18 patches, 2 frames each, 2×2 merged
    assert tokens["vision"] == 12 // 2 * (width // 14) * (height // 14) // 4 == 1080
    assert tokens["prompt"] > tokens["vision"] and 0 < tokens["completion"] <= 16
    assert report["latency_s"]["median"] > 0


def test_the_script_prints_its_json_with_the_double(clip_set: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "eval_vlm.py"), "--clips", str(clip_set)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["model"] == "scripted-test-double" and report["by_event_type"]["fall"]["precision"] == 0.667


@pytest.mark.parametrize(
    "write, message",
    [
        (None, "no clips.yaml here"),
        ("clips: []", "clips: List should have at least 1 item"),
        (
            "clips:\n  - {file: a.mp4, event_type: fall, happens: true}",
            "clips.0: Value error, a clip where it happens needs start_s and end_s",
        ),
        (
            "clips:\n  - {file: a.mp4, event_type: fall, happens: false, when: 3}",
            "clips.0.when: Extra inputs are not permitted",
        ),
        ("clips:\n  - {file: gone.mp4, event_type: fall, happens: false}", "no such video: gone.mp4"),
        ("clips: [", "not YAML"),
    ],
)
def test_a_bad_clip_set_is_refused_saying_what_and_where(tmp_path: Path, write: str | None, message: str) -> None:
    if write is not None:
        (tmp_path / "clips.yaml").write_text(write)
    (tmp_path / "a.mp4").write_bytes(b"")
    with pytest.raises(ClipSetError, match=message.replace("[", r"\[")):
        load_clip_set(tmp_path)


def test_percentiles_are_nearest_rank() -> None:
    assert (percentile([1, 2, 3, 4], 0.5), percentile([1, 2, 3, 4], 0.9), percentile([], 0.5)) == (2, 4, None)
