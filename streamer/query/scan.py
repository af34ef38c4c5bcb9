"""`--scan`: the stretches of recorded footage with no event that the VLM is shown, as windows.

When the question names detector classes, only the seconds in which a tracked object of those classes was on
camera are scanned, so that a week of empty car park is not sent to the VLM; otherwise every recorded second
is a candidate. Either way, at most `scan_max_windows` windows go, the earliest first, and the answer says how
many there were."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from streamer.index import search, store
from streamer.query.ground import GroundWindow
from streamer.query.question import Question

MIN_WINDOW_S = 2.0
STAY_PAD_S = (1.0, 2.0)  # a stay in the track summary, widened: the summary has one-second resolution


@dataclass(frozen=True)
class ScanPlan:
    windows: tuple[GroundWindow, ...]  # the ones sent
    total: int  # how many there were
    seconds: float  # footage they cover
    narrowed_by: tuple[str, ...]  # the classes that chose them (empty: all recorded footage)


def plan_scan(
    conn: Connection,
    question: Question,
    since: float,
    until: float,
    busy: list[tuple[str, float, float]],
    window_s: float,
    max_windows: int,
) -> ScanPlan:
    spans: list[tuple[str, float, float]] = []
    if question.classes:
        for stay in search.presence(conn, question.cameras, question.classes, since, until):
            spans.append(
                (stay.camera, max(since, stay.start_s - STAY_PAD_S[0]), min(until, stay.end_s + STAY_PAD_S[1]))
            )
    else:
        for camera in question.cameras:
            spans += [
                (camera, max(since, s.start_ts), min(until, s.end_ts))
                for s in store.segments_overlapping(conn, camera, since, until)
            ]
    windows = []
    for camera in question.cameras:
        own = _merge(sorted((s, e) for c, s, e in spans if c == camera))
        taken = _merge(sorted((s, e) for c, s, e in busy if c == camera))
        for start, end in _subtract(own, taken):
            windows += _chop(camera, start, end, window_s)
    windows.sort(key=lambda w: w.start_ts)
    seconds = sum(w.end_ts - w.start_ts for w in windows)
    return ScanPlan(tuple(windows[:max_windows]), len(windows), round(seconds, 1), question.classes)


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(spans: list[tuple[float, float]], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    left = []
    for start, end in spans:
        for hole_start, hole_end in holes:
            if hole_end <= start or hole_start >= end:
                continue
            if hole_start > start:
                left.append((start, hole_start))
            start = max(start, hole_end)
            if start >= end:
                break
        if end - start > 0:
            left.append((start, end))
    return [(s, e) for s, e in left if e - s >= MIN_WINDOW_S]


def _chop(camera: str, start: float, end: float, window_s: float) -> list[GroundWindow]:
    pieces = []
    while end - start >= MIN_WINDOW_S:
        pieces.append(GroundWindow(camera, start, min(end, start + window_s)))
        start += window_s
    return pieces
