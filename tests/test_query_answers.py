"""Questions over recordings that `streamer run` made of clips with known events (testkit/query_scenes.py):
the fall, the line crossing and the zone entry come back at their true times with playable clips and their
snapshots; questions with no answer, only a time, a future or empty range, or an unknown camera get clear answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import av
import pytest

from streamer.config import load_config
from streamer.query.question import QuestionError
from streamer.query.service import QueryService

TOLERANCE_S = 1.0  # the bar; the rules themselves are within one detect interval (0.2 s)


@pytest.fixture(scope="module")
def service(recorded) -> QueryService:
    return QueryService(load_config(recorded.config))


def truth(recorded, event_type: str) -> float:
    return next(t.start_ts for t in recorded.truths if t.type == event_type)


def query_cli(recorded, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamer", "query", *args, "--config", str(recorded.config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_when_did_the_person_fall_gives_the_fall_within_a_second_with_a_playable_clip(recorded) -> None:
    done = query_cli(recorded, "when did the person fall")
    assert done.returncode == 0, done.stderr[-2000:]
    answer, *rest = done.stdout.splitlines()
    assert (
        answer.startswith("A person fell at ") and " on lobby (track " in answer and "not verified by a VLM" in answer
    )
    as_json = query_cli(recorded, "when did the person fall", "--json")
    doc = json.loads(as_json.stdout)
    top = doc["hits"][0]
    assert (top["camera"], top["type"], top["source"]) == ("lobby", "fall", "rule")
    assert abs(top["start_ts"] - truth(recorded, "fall")) <= TOLERANCE_S
    assert top["start_iso"].endswith("+01:00")  # the config's zone, Europe/Berlin in November
    clip = recorded.storage / top["clip"]
    assert f"clip: {clip}" in done.stdout  # the text shows where to open it
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        frames = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    # decodes; starts clip_pad_s before the hit (the recording began 3.1 s before the fall) and covers it
    assert len(frames) > 25 and frames[-1] - frames[0] >= (top["end_ts"] - top["start_ts"])
    assert (recorded.storage / top["snapshot"]).read_bytes()[:3] == b"\xff\xd8\xff"
    assert doc["vlm"]["status"] == "not_configured" and "no VLM is configured" in doc["notes"][0]


@pytest.mark.parametrize(
    ("question", "event_type"),
    [
        ("did anyone fall down", "fall"),
        ("show me when someone collapsed", "fall"),
        ("when did someone cross the gate", "line_crossing"),
        ("when did a person walk into the loading zone", "zone_intrusion"),
        ("was anyone in the loading zone", "zone_intrusion"),
    ],
)
def test_phrasings_find_their_event_first(service: QueryService, recorded, question: str, event_type: str) -> None:
    doc = service.ask(question, export=False)
    top = doc["hits"][0]
    assert top["type"] == event_type, doc["hits"]
    assert abs(top["start_ts"] - truth(recorded, event_type)) <= TOLERANCE_S


def test_presence_comes_from_the_track_summary_when_no_rule_watches(service: QueryService, recorded) -> None:
    doc = service.ask("when was a person on the plaza camera", export=False)
    assert doc["understood"]["cameras"] == ["plaza"]
    top = doc["hits"][0]
    assert (top["source"], top["kind"], top["camera"]) == ("track_summary", "presence", "plaza")
    plaza_start = recorded.origin_ts + 120  # the person is there from the first frame until 6.5 s
    assert abs(top["start_ts"] - plaza_start) <= 1.0 and abs(top["end_ts"] - (plaza_start + 6.5)) <= 1.5


@pytest.mark.parametrize(
    "question",
    ["when did the red car park", "when did a dog bark", "was there a fire", "when did the truck crash into the fence"],
)
def test_questions_without_an_answer_say_what_was_searched(service: QueryService, question: str) -> None:
    doc = service.ask(question, export=False)
    assert doc["hits"] == []
    assert doc["answer"].startswith(f'No hit for "{question}". Searched lobby, yard-cam, plaza from ')
    assert "3 events" in doc["answer"] and "s of footage" in doc["answer"]


def test_no_hit_exits_1_and_prints_the_search(recorded) -> None:
    done = query_cli(recorded, "when did the red car park")
    assert done.returncode == 1 and done.stdout.startswith('No hit for "when did the red car park". Searched ')


def test_a_question_with_only_a_time_lists_what_happened_then(service: QueryService, recorded) -> None:
    doc = service.ask("what happened in the last hour", export=False)
    assert doc["understood"]["only_time"] and doc["understood"]["time"] == ["in the last hour"]
    assert [h["type"] for h in doc["hits"]] == ["fall", "line_crossing", "zone_intrusion"]  # in time order
    assert doc["answer"].startswith("3 events on lobby, yard-cam, plaza from ")


def test_a_range_with_no_recordings_says_where_the_recordings_are(service: QueryService) -> None:
    # not "yesterday": the recordings, 15 minutes old, lie in yesterday when the suite runs just after midnight
    doc = service.ask("when did the person fall the day before yesterday", export=False)
    assert doc["hits"] == [] and doc["searched"]["segments"] == 0
    assert "nothing was recorded in that range (recordings span " in doc["answer"]


@pytest.mark.parametrize(
    ("question", "flags", "message"),
    [
        ("", {}, "the question is empty"),
        ("did anyone fall tomorrow", {}, "in the future"),
        ("when did the person fall", {"since": "+1d"}, "in the future"),
        ("when did the person fall on the garage camera", {}, "the cameras are: lobby, yard-cam, plaza"),
        ("when did the person fall", {"camera": "garage"}, "the cameras are: lobby, yard-cam, plaza"),
    ],
)
def test_bad_questions_get_a_clear_refusal(service: QueryService, question: str, flags: dict, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        service.ask(question, export=False, **flags)


def test_bad_input_exits_2_with_the_message(recorded) -> None:
    done = query_cli(recorded, "when did the person fall", "--camera", "garage")
    assert done.returncode == 2 and "unknown camera 'garage'; the cameras are: lobby, yard-cam, plaza" in done.stderr


def test_answers_are_cached_per_question_and_range(service: QueryService, recorded) -> None:
    first = service.ask("did someone fall on the lobby camera", export=False)
    again = service.ask("did someone fall on the lobby camera", export=False, now=time.time() + 5)  # "now" moved on
    wider = service.ask("did someone fall on the lobby camera", since="-3h", export=False)  # holds the same recordings
    narrower = service.ask("did someone fall on the lobby camera", since=str(recorded.origin_ts + 5), export=False)
    assert not first["cached"] and again["cached"] and wider["cached"] and not narrower["cached"]
    assert again["hits"] == first["hits"]


def test_clips_are_exported_once_per_hit(service: QueryService, recorded) -> None:
    doc = service.ask("was anyone in the loading zone")
    clip = recorded.storage / doc["hits"][0]["clip"]
    made = clip.stat().st_mtime_ns
    service.export(doc)
    assert clip.stat().st_mtime_ns == made


def test_a_watch_sighting_answers_in_the_vlm_s_words(recorded, tmp_path) -> None:
    """A `watch` prompt's confirmed finding has no event of its own; its description is what matches."""
    import shutil

    from streamer.index import db, store
    from streamer.index.rows import FindingRow

    storage = tmp_path / "data"
    shutil.copytree(recorded.storage, storage, ignore=shutil.ignore_patterns("query"))
    config = tmp_path / "cameras.yaml"
    config.write_text(
        recorded.config.read_text().replace(f"storage_dir: {recorded.storage}", f"storage_dir: {storage}")
    )
    seen = recorded.origin_ts + 122.0
    conn = db.connect(storage)
    store.record_finding(
        conn,
        FindingRow(
            job_id="watch-1",
            event_id=None,
            camera="plaza",
            kind="watch",
            status="answered",
            verdict="confirmed",
            risk_level="high",
            label="a man climbs over the fence",
            description="A man climbs over the fence behind the bikes.",
            start_ts=seen,
            end_ts=seen + 2,
            window_start_ts=seen - 2,
            window_end_ts=seen + 2,
            track_id=None,
            bbox_json=None,
            model="scripted-test-double",
            answer_text="{}",
            error=None,
            answered_ts=seen + 5,
        ),
    )
    conn.close()
    doc = QueryService(load_config(config)).ask("when did someone climb the fence")
    top = doc["hits"][0]
    assert (top["source"], top["camera"], top["start_ts"]) == ("vlm_watch", "plaza", seen)
    assert (
        doc["answer"].startswith("A man climbs over the fence at ")
        and "confirmed by the VLM, risk high" in doc["answer"]
    )
    assert top["clip"] is not None and top["snapshot"] is not None
