"""The answer as one JSON document (the CLI's --json and GET /query return the same), its one-line summary, and
the text the CLI prints."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

from pipelines.phrases import answer_phrase
from streamer.core.timefmt import iso_time
from streamer.index.search import Coverage
from streamer.query.hits import Hit, HitKind, HitSource
from streamer.query.question import Question

DOC_VERSION = 1


def hit_json(hit: Hit, tz: tzinfo) -> dict:
    return {
        "id": hit.id,
        "camera": hit.camera,
        "kind": hit.kind.value,
        "type": hit.type,
        "label": hit.label,
        "track_id": hit.track_id,
        "start_ts": round(hit.start_ts, 3),
        "start_iso": iso_time(hit.start_ts, tz),
        "end_ts": None if hit.end_ts is None else round(hit.end_ts, 3),
        "end_iso": None if hit.end_ts is None else iso_time(hit.end_ts, tz),
        "confidence": hit.confidence,
        "source": hit.source.value,
        "verification": hit.verification,
        "grounding": hit.grounding,
        "risk_level": hit.risk_level,
        "description": hit.description,
        "event_id": hit.event_id,
        "rule": hit.rule,
        "zone": hit.zone,
        "relevance": hit.relevance,
        "score": hit.score,
        "index_start_iso": None if hit.index_start_ts is None else iso_time(hit.index_start_ts, tz),
        "clip": None,
        "clip_url": f"/clips/{hit.id}",
        "clip_error": None,
        "snapshot": None,
        "snapshot_url": f"/snapshots/{hit.id}",
        "snapshot_error": None,
    }


def searched_json(question: Question, since: float, until: float, coverage: Coverage, tz: tzinfo) -> dict:
    return {
        "cameras": list(question.cameras),
        "since_ts": round(since, 3),
        "since_iso": iso_time(since, tz),
        "until_ts": round(until, 3),
        "until_iso": iso_time(until, tz),
        "events": coverage.events,
        "segments": coverage.segments,
        "footage_s": round(coverage.footage_s, 1),
        "footage_hours": round(coverage.footage_s / 3600, 3),
        "recordings_from_iso": None if coverage.first_ts is None else iso_time(coverage.first_ts, tz),
        "recordings_to_iso": None if coverage.last_ts is None else iso_time(coverage.last_ts, tz),
    }


def understood_json(question: Question) -> dict:
    return {
        "time": list(question.time.said),
        "cameras": list(question.cameras) if question.named_cameras else [],
        "zones": list(question.zones),
        "classes": list(question.classes),
        "subject": question.subject,
        "only_time": question.only_time,
    }


def clock(ts: float, tz: tzinfo, now: float) -> str:
    moment = datetime.fromtimestamp(ts, tz)
    same_day = moment.date() == datetime.fromtimestamp(now, tz).date()
    return moment.strftime("%H:%M:%S") if same_day else moment.strftime("%Y-%m-%d %H:%M:%S")


def one_line(doc: dict, hits: list[Hit], tz: tzinfo, now: float) -> str:
    searched = doc["searched"]
    if not hits:
        return no_hit_line(doc["question"], searched)
    if doc["understood"]["only_time"]:
        first = hits[0]
        return (
            f"{len(hits)} event{'s' if len(hits) != 1 else ''} on {', '.join(searched['cameras'])} from "
            f"{searched['since_iso']} to {searched['until_iso']}; the first: "
            f"{answer_phrase(first.type, first.label, first.zone, first.rule)} at {clock(first.start_ts, tz, now)} "
            f"on {first.camera}."
        )
    top = hits[0]
    line = _what(top, tz, now) + "; " + _evidence(top) + "."
    if len(hits) > 1:
        line += f" ({len(hits) - 1} more hit{'s' if len(hits) > 2 else ''}.)"
    return line


def no_hit_line(question: str, searched: dict) -> str:
    line = (
        f'No hit for "{question}". Searched {", ".join(searched["cameras"])} from {searched["since_iso"]} to '
        f"{searched['until_iso']}: {_count(searched['events'], 'event')}, {_duration(searched['footage_s'])} of footage"
    )
    if searched["segments"] == 0:
        extent = (
            f"recordings span {searched['recordings_from_iso']} to {searched['recordings_to_iso']}"
            if searched["recordings_from_iso"]
            else "nothing is recorded for these cameras"
        )
        line += f"; nothing was recorded in that range ({extent})"
    return line + "."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _what(hit: Hit, tz: tzinfo, now: float) -> str:
    track = f" (track {hit.track_id})" if hit.track_id is not None else ""
    if hit.kind is HitKind.SCAN or hit.kind is HitKind.WATCH:
        said = (hit.label or hit.description or "something").strip().rstrip(".")
        return f"{said[:1].upper()}{said[1:]} at {clock(hit.start_ts, tz, now)} on {hit.camera}"
    phrase = answer_phrase(hit.type, hit.label, hit.zone, hit.rule)
    if hit.kind is HitKind.PRESENCE and hit.end_ts is not None:
        return f"{phrase} on {hit.camera} from {clock(hit.start_ts, tz, now)} to {clock(hit.end_ts, tz, now)}{track}"
    return f"{phrase} at {clock(hit.start_ts, tz, now)} on {hit.camera}{track}"


def _evidence(hit: Hit) -> str:
    risk = f", risk {hit.risk_level}" if hit.risk_level else ""
    if hit.source is HitSource.VLM_GROUNDING:
        said = "found by the VLM in the footage" if hit.kind is HitKind.SCAN else "times from the VLM for this question"
        verified = "confirmed by the VLM" if hit.verification == "confirmed" else said
        return f"{verified}{'' if verified == said else ', ' + said}{risk}"
    if hit.verification == "confirmed":
        return f"confirmed by the VLM{risk}"
    if hit.verification == "rejected":
        return "the VLM rejected it"
    if hit.kind is HitKind.PRESENCE:
        return "from the track summary, not verified"
    return "VLM verification pending" if hit.verification == "pending" else "not verified by a VLM"


def render_text(doc: dict, storage_dir: Path | None = None) -> str:
    """With `storage_dir`, files are shown where people open them rather than relative to the storage folder."""
    lines = [doc["answer"]]
    lines += [f"Note: {note}" for note in doc["notes"]]
    for number, hit in enumerate(doc["hits"], start=1):
        confidence = "-" if hit["confidence"] is None else f"{hit['confidence']:.2f}"
        track = f" #{hit['track_id']}" if hit["track_id"] is not None else ""
        lines.append(
            f"{number:2d}. {hit['camera']}  {hit['start_iso']} -> {hit['end_iso'] or '(open)'}  "
            f"{hit['type']} {hit['label']}{track}  confidence {confidence}  source {hit['source']}  "
            f"verification {hit['verification']}  score {hit['score']:.2f}"
        )
        if hit["description"]:
            lines.append(f"    {hit['description']}")
        for key in ("clip", "snapshot"):
            shown = hit[key] if storage_dir is None or not hit[key] else storage_dir / hit[key]
            lines.append(f"    {key}: {shown or hit[key + '_error'] or hit[key + '_url']}")
    if doc["hits"]:
        searched = doc["searched"]
        lines.append(
            f"Searched {', '.join(searched['cameras'])} from {searched['since_iso']} to {searched['until_iso']}: "
            f"{_count(searched['events'], 'event')}, {_duration(searched['footage_s'])} of footage."
        )
    return "\n".join(lines)
