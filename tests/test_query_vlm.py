"""Grounding questions with the VLM stage's backends, on the recordings of `streamer run` (testkit/
query_scenes.py). The semantics use the scripted test double (named so: no Qwen2.5-VL weights can run here);
the real transformers path runs once with a tiny random Qwen2.5-VL and the real processor, whose answers are
noise and must leave the index's answer standing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamer.config import load_config
from streamer.config.vlm import TransformersConfig, VlmConfig
from streamer.query.service import QueryService
from streamer.vlm.backends.local import TransformersBackend
from streamer.vlm.backends.scripted import ScriptedTestDouble
from testkit.tiny_qwen import build_tiny_model, qwen_tokenizer_json
from tests.conftest import REPO

FALL = {
    "verdict": "confirmed",
    "events": [
        {
            "label": "a man tips over",
            "start_time": 2.5,
            "end_time": 4.0,
            "risk_level": "high",
            "description": "A man tips over onto the pavement.",
        }
    ],
}


class FrameCheckingDouble(ScriptedTestDouble):
    """The scripted test double, noting whether every frame it was sent was a JPEG on disk when it answered."""

    def answer(self, requests):
        self.frames_were_jpegs = [all(p.read_bytes()[:2] == b"\xff\xd8" for p in r.frames) for r in requests]
        return super().answer(requests)


def service_with(recorded, tmp_path: Path, answers: list, **query) -> tuple[QueryService, ScriptedTestDouble]:
    (tmp_path / "answers.yaml").write_text(json.dumps({"query": answers}))
    loaded = load_config(recorded.config)
    vlm = VlmConfig(backend="scripted", scripted={"responses": tmp_path / "answers.yaml"})
    loaded = loaded.model_copy(update={"vlm": vlm, "query": loaded.query.model_copy(update=query)})
    double = FrameCheckingDouble.from_file(tmp_path / "answers.yaml")
    return QueryService(loaded, backend_factory=lambda: double), double


def fall_event_start(recorded) -> float:
    doc = QueryService(load_config(recorded.config)).ask("when did the person fall", export=False)
    return doc["hits"][0]["start_ts"]


def test_the_vlm_grounds_the_top_hit_in_wall_clock_time(recorded, tmp_path: Path) -> None:
    service, double = service_with(recorded, tmp_path, [FALL], ground_top_k=1)
    doc = service.ask("when did the person fall", export=False)
    top, index_start = doc["hits"][0], fall_event_start(recorded)
    request = double.requests[0]
    # the window opens pre_s = 3 s before the event, sampled from the recording at 2 fps with the true frame times
    assert request.fps == 2.0 and request.event_type == "query"
    assert all(abs((b - a) - 0.5) < 0.05 for a, b in zip(request.frame_times, request.frame_times[1:]))
    assert "when did the person fall" in request.prompt and double.frames_were_jpegs == [True]
    assert not request.frames[0].parent.exists()  # the frames served that call only
    window_start = index_start - 3.0
    assert top["start_ts"] == pytest.approx(window_start + 2.5, abs=0.002)  # the answer's 2.5 s, on the wall clock
    assert top["end_ts"] == pytest.approx(window_start + 4.0, abs=0.002)
    assert (top["source"], top["grounding"], top["risk_level"]) == ("vlm_grounding", "confirmed", "high")
    assert top["description"] == "A man tips over onto the pavement." and top["index_start_iso"] is not None
    assert "times from the VLM for this question, risk high" in doc["answer"]
    assert doc["vlm"]["status"] == "answered" and doc["vlm"]["model"] == "scripted-test-double"


def test_an_answer_in_words_is_read_as_seconds(recorded, tmp_path: Path) -> None:
    service, _ = service_with(
        recorded, tmp_path, ["The person falls at about 3 – 4.5 seconds into the clip."], ground_top_k=1
    )
    top = service.ask("when did the person fall", export=False)["hits"][0]
    assert top["grounding"] == "confirmed"
    assert top["start_ts"] == pytest.approx(fall_event_start(recorded) - 3.0 + 3.0, abs=0.002)


def test_a_rejection_keeps_the_hit_but_says_so(recorded, tmp_path: Path) -> None:
    service, _ = service_with(recorded, tmp_path, [{"verdict": "rejected", "events": []}], ground_top_k=1)
    doc = service.ask("when did the person fall", export=False)
    top = doc["hits"][0]
    assert (top["type"], top["grounding"], top["source"]) == ("fall", "rejected", "rule")


def test_a_vlm_that_times_out_leaves_the_index_answer_flagged(recorded, tmp_path: Path) -> None:
    service, _ = service_with(recorded, tmp_path, [{"delay_s": 4, "answer": FALL}], ground_top_k=1, vlm_timeout_s=0.5)
    doc = service.ask("when did the person fall", export=False)
    top = doc["hits"][0]
    assert doc["vlm"]["status"] == "timeout" and doc["elapsed_s"] < 3.5
    assert (top["type"], top["source"], top["grounding"]) == ("fall", "rule", "timeout")
    assert any(
        "the VLM did not answer (timeout" in note and "answered from the index alone" in note for note in doc["notes"]
    )
    assert doc["answer"].startswith("A person fell at ")


def test_a_timed_out_call_does_not_delete_the_next_questions_frames(recorded, tmp_path: Path) -> None:
    """The same window asked twice while the first, timed-out call is still running: when that call ends it
    must remove its own frames only, not those the second question wrote for the same window."""
    service, double = service_with(
        recorded, tmp_path, [{"delay_s": 2, "answer": FALL}, FALL], ground_top_k=1, vlm_timeout_s=0.5
    )
    frames = recorded.storage / "query" / "frames"
    before = set(frames.iterdir()) if frames.is_dir() else set()  # an earlier test's timed-out call may still run
    assert service.ask("when did the person fall", export=False)["vlm"]["status"] == "timeout"
    service.grounder.timeout_s = 20  # the second question waits for the first call to finish
    doc = service.ask("when did the person fall", export=False)  # not the cached timeout: the VLM is asked again
    assert doc["vlm"]["status"] == "answered", doc["vlm"]
    assert double.frames_were_jpegs == [True] and doc["hits"][0]["grounding"] == "confirmed"
    assert set(frames.iterdir()) <= before  # both calls removed their own frames


def test_frames_that_cannot_be_written_leave_the_index_answer_flagged(recorded, tmp_path: Path) -> None:
    service, double = service_with(recorded, tmp_path, [FALL], ground_top_k=1)
    unwritable = tmp_path / "storage"
    unwritable.mkdir()
    (unwritable / "query").write_text("a file where the frames folder should be")
    service.grounder.storage_dir = unwritable
    doc = service.ask("when did the person fall", export=False)
    assert doc["vlm"]["status"] == "error" and "frames not written" in doc["vlm"]["detail"]
    assert doc["hits"][0]["type"] == "fall" and doc["hits"][0]["source"] == "rule"
    assert double.requests == [] and not doc["cached"]


def test_scan_sends_only_footage_with_the_named_class_and_no_event(recorded, tmp_path: Path) -> None:
    walk = {
        "verdict": "confirmed",
        "events": [
            {
                "label": "a person walks past",
                "start_time": 1.0,
                "end_time": 2.0,
                "risk_level": "low",
                "description": "A man walks along the pavement.",
            }
        ],
    }
    service, double = service_with(recorded, tmp_path, [walk], ground_top_k=0)
    doc = service.ask("when did a person walk past", scan=True, export=False)
    scan = doc["vlm"]["scan"]
    # plaza has no rules: its walker is the only person footage outside the events' windows (lobby and yard-cam
    # are covered by their events' windows)
    assert scan["narrowed_by_classes"] == ["person"] and scan["windows"] == scan["sent"] == 1
    found = [h for h in doc["hits"] if h["kind"] == "scan"]
    assert len(found) == 1 and found[0]["camera"] == "plaza" and found[0]["source"] == "vlm_grounding"
    plaza_start = recorded.origin_ts + 120
    # the stay's window opens 1 s before the summary's first second; the answer's 1.0 s is then plaza_start
    assert len(double.requests) == 1 and found[0]["start_ts"] == pytest.approx(plaza_start - 1.0 + 1.0, abs=0.002)
    cars = service.ask("when did a car drive past", scan=True, export=False)
    assert cars["vlm"]["scan"]["windows"] == 0 and cars["hits"] == []  # no car was ever tracked: nothing sent
    everything = service.ask("when did something odd happen", scan=True, export=False)
    unnarrowed = everything["vlm"]["scan"]  # no class named: all recorded footage outside the events' windows
    assert unnarrowed["narrowed_by_classes"] == [] and unnarrowed["windows"] >= 1 and unnarrowed["seconds"] >= 7.5


def test_scan_without_a_vlm_answers_from_the_index_and_says_so(recorded) -> None:
    doc = QueryService(load_config(recorded.config)).ask("when did a person walk past", scan=True, export=False)
    assert "no VLM is configured" in doc["notes"][0] and "--scan needs one" in doc["notes"][0]


def test_the_transformers_backend_grounds_recorded_frames(recorded, tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "tiny-qwen", qwen_tokenizer_json(REPO / "models" / "test"))
    config = TransformersConfig(model=str(model), device="cpu", max_new_tokens=16)
    loaded = load_config(recorded.config)
    loaded = loaded.model_copy(
        update={
            "vlm": VlmConfig(backend="transformers", transformers=config),
            "query": loaded.query.model_copy(update={"ground_top_k": 1}),
        }
    )
    backend = {}
    service = QueryService(loaded, backend_factory=lambda: backend.setdefault("it", TransformersBackend.load(config)))
    doc = service.ask("when did the person fall", export=False)
    assert doc["vlm"]["status"] == "answered" and doc["vlm"]["windows"] == 1
    top = doc["hits"][0]
    assert top["type"] == "fall" and top["grounding"] in (
        "invalid",
        "confirmed",
        "rejected",
    )  # noise from random weights
    inputs = backend["it"].prepare([_last_request(service, recorded, tmp_path)])
    frames = int(inputs["video_grid_thw"][0][0]) * 2
    assert inputs["second_per_grid_ts"][0] == pytest.approx(1.0) and frames >= 10  # 2 fps, about 6 s of video


def _last_request(service: QueryService, recorded, tmp_path: Path):
    from streamer.index import db
    from streamer.query.ground import GroundWindow

    conn = db.connect(recorded.storage, readonly=True)
    try:
        start = fall_event_start(recorded)
        return service.grounder._request(
            "when did the person fall", GroundWindow("lobby", start - 3, start + 3.4, 0), conn, tmp_path
        )
    finally:
        conn.close()
