"""Everything in the index that could answer a question in its range: events (with their VLM verdicts), `watch`
sightings, and, when the question names a class or a zone, the stretches of time an object of that class was
there (from the per-second track summary)."""

from __future__ import annotations

import numpy as np
import supervision as sv
from sqlalchemy import Connection

from pipelines.phrases import match_sentences, presence_sentence
from pipelines.zone_intrusion import polygon_zone
from streamer.config.root import StreamerConfig
from streamer.index import search
from streamer.index.rows import FindingRow, TrackSecond
from streamer.index.search import Presence, StoredEvent
from streamer.query.hits import Hit, HitKind, HitSource
from streamer.query.question import Question

PRESENCE_GAP_S = 2  # a track unseen this many seconds or less is still one stay


def event_hits(events: list[StoredEvent]) -> list[Hit]:
    hits = []
    for event in events:
        finding = event.vlm
        verified = event.verification in ("confirmed", "rejected")
        texts = match_sentences(event.type, event.label, event.zone, event.rule)
        texts += [text for text in (event.description, finding.label if finding else None) if text]
        hits.append(
            Hit(
                camera=event.camera,
                kind=HitKind.EVENT,
                type=event.type,
                label=event.label,
                start_ts=event.start_ts,
                end_ts=event.end_ts,
                confidence=event.confidence,
                source=HitSource.VLM_VERIFICATION if verified else HitSource.RULE,
                verification=event.verification,
                texts=tuple(texts),
                rule=event.rule,
                zone=event.zone,
                track_id=event.track_id,
                event_id=event.event_id,
                risk_level=event.risk_level,
                description=event.description,
                snapshot=event.snapshot,
                bbox=event.bbox,
            )
        )
    return hits


def watch_hits(rows: list[FindingRow]) -> list[Hit]:
    return [
        Hit(
            camera=row.camera,
            kind=HitKind.WATCH,
            type="watch",
            label=row.label or "watch",
            start_ts=row.start_ts or row.window_start_ts,
            end_ts=row.end_ts or row.window_end_ts,
            confidence=None,
            source=HitSource.VLM_WATCH,
            verification="confirmed",
            texts=tuple(t for t in (row.label, row.description) if t),
            track_id=row.track_id,
            risk_level=row.risk_level,
            description=row.description,
        )
        for row in rows
    ]


def presence_hits(
    conn: Connection, question: Question, config: StreamerConfig, since: float, until: float
) -> list[Hit]:
    """Stays of the named classes (in the named zones); nothing when the question names neither."""
    if not question.classes and not question.zones:
        return []
    if not question.zones:
        stays = _merged(search.presence(conn, question.cameras, question.classes, since, until))
        return [_presence_hit(stay, None) for stay in stays]
    hits = []
    for camera in question.cameras:
        for zone_name in question.zones:
            zone = config.cameras[camera].zones.get(zone_name)
            if zone is not None:
                rows = search.track_boxes(conn, [camera], question.classes or None, since, until)
                hits += [_presence_hit(stay, zone_name) for stay in _merged(_inside(rows, polygon_zone(zone)))]
    return hits


def _inside(rows: list[TrackSecond], zone: sv.PolygonZone) -> list[Presence]:
    """One-second stays of the boxes whose bottom middle is in the zone (as the zone rules decide)."""
    if not rows:
        return []
    boxes = np.array([r.box for r in rows], dtype=np.float32)
    inside = zone.trigger(sv.Detections(xyxy=boxes, class_id=np.zeros(len(rows), dtype=int)))
    return [
        Presence(r.camera, r.track_id, r.label, r.second, r.second, r.confidence, r.box)
        for r, hit in zip(rows, inside)
        if hit
    ]


def _merged(stays: list[Presence]) -> list[Presence]:
    open_stays: dict[tuple[str, int, str], Presence] = {}
    merged: list[Presence] = []
    for stay in sorted(stays, key=lambda s: s.start_s):
        key = (stay.camera, stay.track_id, stay.label)
        held = open_stays.get(key)
        if held is not None and stay.start_s - held.end_s <= PRESENCE_GAP_S:
            weight = held.end_s - held.start_s + 1
            confidence = (held.confidence * weight + stay.confidence * (stay.end_s - stay.start_s + 1)) / (
                weight + stay.end_s - stay.start_s + 1
            )
            open_stays[key] = Presence(
                held.camera,
                held.track_id,
                held.label,
                held.start_s,
                max(held.end_s, stay.end_s),
                round(confidence, 3),
                held.box,
            )
            continue
        if held is not None:
            merged.append(held)
        open_stays[key] = stay
    return sorted(merged + list(open_stays.values()), key=lambda s: s.start_s)


def _presence_hit(stay: Presence, zone: str | None) -> Hit:
    return Hit(
        camera=stay.camera,
        kind=HitKind.PRESENCE,
        type="presence",
        label=stay.label,
        start_ts=float(stay.start_s),
        end_ts=float(stay.end_s + 1),
        confidence=stay.confidence,
        source=HitSource.TRACK_SUMMARY,
        verification="unverified",
        texts=(presence_sentence(stay.label, zone, stay.camera),),
        zone=zone,
        track_id=stay.track_id,
        bbox=stay.box,
    )
