"""The answer parser, the time conversion and the box mapping against what Qwen2.5-VL and Qwen2-VL really wrote
(tests/data/vlm_answers/qwen_answers.yaml: verbatim, each with its source and request). Every real answer is either
taken or refused with a named reason, never guessed; the deviations from the prompt's schema that the stage accepts
(docs/vlm.md) are checked on answers built here from the real ones' formats, and say so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from streamer.config.vlm import VlmConfig
from streamer.vlm.answer import (
    REFUSALS,
    AnswerError,
    extract_json,
    parse_answer,
    seconds_of,
)
from streamer.vlm.finding import rescale_box, to_finding, wall_time
from streamer.vlm.job import JobFrame, JobKind, VlmJob

CORPUS = Path(__file__).parent / "data" / "vlm_answers" / "qwen_answers.yaml"
ANSWERS = {entry["id"]: entry for entry in yaml.safe_load(CORPUS.read_text(encoding="utf-8"))}

# What the stage does with each real answer, and why (docs/vlm.md, "Answers the parser meets")
EXPECTED = {
    "cookbook-video-ocr-table-zh": "no_json",  # a Markdown table in Chinese
    "cookbook-video-long-description": "no_json",  # six paragraphs of prose
    "cookbook-video-grounding-prose": "no_json",  # times in prose: "happens in 64.0 - 72.0 seconds", no verdict
    "cookbook-video-structured-captions": "not_an_answer",  # a fenced list of events with mm:ss.ff times, no verdict
    "cookbook-ocr-text-spotting": "not_an_answer",  # 39 boxes, with trailing commas
    "cookbook-ocr-key-values-en": "not_an_answer",  # prose, then a fenced object of other keys
    "cookbook-ocr-key-values-zh": "not_an_answer",  # the same in Chinese
    "cookbook-ocr-plain-text-api": "no_json",  # the receipt's lines, from the 72B model over an API
    "cookbook-recognition-bird-en-zh": "no_json",  # English with Chinese names
    "cookbook-mobile-agent-tool-call": "not_an_answer",  # <tool_call>{…}</tool_call>
    "issue-qwen2-vl-box-tokens": "no_json",  # Qwen2-VL's <|box_start|>(x1,y1),(x2,y2)<|box_end|>
}


def test_every_corpus_answer_has_its_source_request_and_an_expected_outcome() -> None:
    assert set(ANSWERS) == set(EXPECTED)
    for entry in ANSWERS.values():
        assert entry["source"].startswith("https://github.com/") and entry["request"]["prompt"] and entry["answer"]
        assert entry["model"].lower().startswith(("qwen/qwen2.5-vl", "qwen2.5-vl", "qwen2-vl"))


@pytest.mark.parametrize("answer_id", sorted(EXPECTED))
def test_each_real_answer_is_taken_or_refused_with_its_named_reason(answer_id: str) -> None:
    with pytest.raises(AnswerError) as refused:
        parse_answer(ANSWERS[answer_id]["answer"], duration_s=30.0, tolerance_s=0.5)
    assert refused.value.kind == EXPECTED[answer_id]
    assert refused.value.kind in REFUSALS and refused.value.detail


@pytest.mark.parametrize("answer_id", sorted(EXPECTED))
def test_a_real_answer_cut_anywhere_is_refused_never_guessed(answer_id: str) -> None:
    """As the token limit would cut it: every prefix is refused with a named reason, none raises anything else."""
    text = ANSWERS[answer_id]["answer"]
    for cut in range(1, len(text), 3):
        with pytest.raises(AnswerError) as refused:
            parse_answer(text[:cut], duration_s=30.0, tolerance_s=0.5)
        assert refused.value.kind in REFUSALS


def test_the_structured_captions_mm_ss_ff_times_are_read_as_seconds() -> None:
    """The cookbook's four events, in the 'mm:ss.ff' the prompt asked for (the video lasts 04:25)."""
    events = extract_json(ANSWERS["cookbook-video-structured-captions"]["answer"]).value
    times = [(seconds_of(e["start_time"]), seconds_of(e["end_time"])) for e in events]
    assert times == [(0.0, 21.8), (23.9, 95.6), (97.8, 168.8), (170.0, 259.8)]
    assert all(end <= 265.0 for _, end in times)


@pytest.mark.parametrize(
    "written, seconds",
    [
        ("3.2s", 3.2),
        ("12:34.56", 754.56),
        ("1:02:03.5", 3723.5),
        (" 4.5 seconds", 4.5),
        ("7", 7.0),
        (2, 2.0),
    ],
)
def test_times_in_both_formats_qwen2_5_vl_was_trained_on(written, seconds) -> None:
    assert seconds_of(written) == pytest.approx(seconds)


@pytest.mark.parametrize("written", ["from 3.5 to 5 seconds", "00:75.0", "soon", True, None, [1, 2]])
def test_anything_else_in_a_time_field_is_refused(written) -> None:
    text = json.dumps(
        {
            "verdict": "confirmed",
            "events": [
                {"label": "a fall", "start_time": written, "end_time": 4, "risk_level": "high", "description": "x"}
            ],
        }
    )
    with pytest.raises(AnswerError) as refused:
        parse_answer(text, duration_s=10.0, tolerance_s=0.5)
    assert refused.value.kind == "schema" and "start_time" in refused.value.detail


def _our_schema(start, end, **extra) -> dict:
    return {
        "verdict": "confirmed",
        "events": [
            {
                "label": "a person falls",
                "start_time": start,
                "end_time": end,
                "risk_level": "high",
                "description": "She slips and lands.",
                **extra,
            }
        ],
    }


def test_accepted_deviations_built_from_the_real_formats() -> None:
    """Built here, not quoted: the stage's own schema written the ways the corpus shows Qwen2.5-VL writing JSON."""
    fenced_with_prose = "Here is the answer:\n```json\n" + json.dumps(_our_schema("00:03.50", "00:05.00")) + "\n```"
    assert parse_answer(fenced_with_prose, 10.0, 0.5).events[0].start_time == 3.5
    in_a_list = json.dumps([_our_schema("3.5s", "5s")])  # the cookbook's habit of answering with a list
    assert parse_answer(in_a_list, 10.0, 0.5).events[0].end_time == 5.0
    trailing_commas = '{"verdict": "rejected", "events": [],}'  # as in the text-spotting answer
    assert parse_answer(trailing_commas, 10.0, 0.5).verdict == "rejected"


@pytest.mark.parametrize(
    "cut_after, kind",
    [
        ('"end_time": 4', "truncated"),  # 4 could have been 4.5: never closed by guessing
        ('"start_time": 3.5, "end_ti', "truncated"),  # before its times were complete
        ('"description": "She slips', None),  # inside the description: closed, the words so far kept
    ],
)
def test_a_cut_answer_is_closed_only_where_nothing_is_guessed(cut_after: str, kind) -> None:
    whole = json.dumps(_our_schema(3.5, 4.5))
    text = whole[: whole.index(cut_after) + len(cut_after)]
    if kind is None:
        assert parse_answer(text, 10.0, 0.5).events[0].description == "She slips"
        return
    with pytest.raises(AnswerError) as refused:
        parse_answer(text, 10.0, 0.5)
    assert refused.value.kind == kind


def test_qwen2_5_vl_boxes_are_pixels_of_its_resized_input() -> None:
    """The text-spotting answer's 39 boxes, on a 870x1398 receipt the model saw at 868x1400 (the cell prints it)."""
    entry = ANSWERS["cookbook-ocr-text-spotting"]
    boxes = [item["bbox_2d"] for item in extract_json(entry["answer"]).value]
    (iw, ih), (fw, fh) = entry["input_wh"], entry["image_wh"]
    assert len(boxes) == 39
    for box in boxes:
        mapped = rescale_box(box, (iw, ih), (fw, fh))
        assert mapped == pytest.approx(
            [box[0] * fw / iw, box[1] * fh / ih, box[2] * fw / iw, box[3] * fh / ih], abs=0.051
        )


def test_qwen2_vl_boxes_are_thousandths_of_the_frame() -> None:
    numbers = [
        int(n) for n in re.findall(r"\d+", ANSWERS["issue-qwen2-vl-box-tokens"]["answer"].split("<|box_start|>")[1])
    ]
    assert numbers == [531, 516, 581, 596]
    assert rescale_box(numbers, (504, 224), (1280, 720), "relative_1000") == pytest.approx(
        (679.7, 371.5, 743.7, 429.1), abs=0.051
    )


@pytest.mark.parametrize(
    "model, space",
    [
        ("Qwen2.5-VL-7B-Instruct", "input_pixels"),
        ("Qwen/Qwen2-VL-7B-Instruct", "relative_1000"),
        ("qwen3-vl-30b-a3b-instruct", "relative_1000"),
        ("qwen2_vl-2b", "relative_1000"),
        ("my-site-lora", "input_pixels"),
    ],
)
def test_the_box_space_follows_the_model_name_unless_set(model: str, space: str) -> None:
    config = VlmConfig.model_validate(
        {"backend": "openai", "openai": {"base_url": "http://127.0.0.1:1/v1", "model": model}}
    )
    assert config.box_space(model) == space
    pinned = VlmConfig.model_validate(
        {"backend": "openai", "openai": {"base_url": "http://127.0.0.1:1/v1"}, "box_coordinates": "input_pixels"}
    )
    assert pinned.box_space(model) == "input_pixels"


def _job(walls: list[float], fps: float = 2.0) -> VlmJob:
    frames = tuple(JobFrame(f"{n:03d}.jpg", wall, ()) for n, wall in enumerate(walls))
    return VlmJob(
        "j",
        JobKind.VERIFY,
        "cam",
        "fall",
        "falls",
        "cam-1",
        1,
        "person",
        3,
        fps,
        frames,
        (640, 480),
        (504, 224),
        walls[0],
        None,
        walls[0],
        None,
    )


def test_the_models_seconds_land_on_the_sampled_frames_real_times() -> None:
    """Frames picked nearest each 0.5 s slot from a 12.5 fps detector are up to 40 ms off the grid; the model puts
    frame i at i / fps, so its seconds are read through the frames' own times."""
    walls = [100.0, 100.48, 101.04, 101.5, 101.96, 102.52]
    assert [wall_time(tuple(walls), 2.0, t) for t in (0.0, 0.5, 1.0, 0.25, 2.5, 2.75, 3.0, 9.0)] == pytest.approx(
        [100.0, 100.48, 101.04, 100.24, 102.52, 102.77, 103.02, 103.02]
    )
    answer = parse_answer(json.dumps(_our_schema("00:01.00", "00:02.50")), 3.0, 0.5)
    finding = to_finding(_job(walls), answer)
    assert (finding.start_ts, finding.end_ts) == pytest.approx((101.04, 102.52))
