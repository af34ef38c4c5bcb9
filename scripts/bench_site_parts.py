"""The site benchmark's figures beyond failover (scripts/bench_site.py): the upload lag of segments to the object
store, a question's latency over the site's PostgreSQL index against one SQLite file of the same rows, and the
index's write rate on each database."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from streamer.alerts.messages import index_record
from streamer.config.loader import load_config
from streamer.index import db, store
from streamer.index.copy import copy_index
from streamer.index.rows import TrackSecond
from testkit.alerts import alert

QUESTION = "when did a bicycle enter the crossing"


def _median(values: list[float], digits: int = 3) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _p95(values: list[float]) -> float | None:
    return round(sorted(values)[min(len(values) - 1, round(0.95 * (len(values) - 1)))], 3) if values else None


def upload_lags(s3, bucket: str, prefix: str, index_url: str, watch_s: float) -> dict:
    """For `watch_s`: each new segment, from the moment its row is in the index (its host closed it; created_ts)
    to the moment its object is listed in the bucket (polled every 0.1 s)."""
    seen: dict[str, float] = {}
    deadline = time.time() + watch_s
    client = s3.client()
    while time.time() < deadline:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}recordings/"):
            for item in page.get("Contents", []):
                seen.setdefault(item["Key"].removeprefix(prefix), time.time())
        time.sleep(0.1)
    conn = db.connect(index_url, readonly=True)
    try:
        from sqlalchemy import select

        from streamer.index.schema import segments

        rows = conn.execute(
            select(segments.c.path, segments.c.created_ts).where(segments.c.created_ts > deadline - watch_s + 1)
        ).all()
    finally:
        conn.close()
    lags = [seen[path] - created for path, created in rows if path in seen and seen[path] > created - 0.05]
    return {"n": len(lags), "p50": _median(lags), "p95": _p95(lags), "max": round(max(lags), 3) if lags else None}


def question_latency(config_path: Path, index_url: str, folder: Path, repeats: int) -> dict:
    """The same question, cold each time (the answer cache emptied), over the site's PostgreSQL index and over an
    SQLite copy of it: milliseconds, median and spread."""
    from streamer.query.service import QueryService

    lite_dir = folder / "one-host"
    source, target = db.connect(index_url, readonly=True), db.connect(lite_dir)
    copy_index(source, target)
    source.close()
    target.close()
    config = load_config(config_path, environ={"STREAMER_NODE": "asker"})
    figures = {}
    for name, changes in (
        ("postgresql", {"storage_dir": folder / "asker-pg"}),
        ("sqlite", {"storage_dir": lite_dir, "index": config.index.model_copy(update={"url": None})}),
    ):
        service = QueryService(config.model_copy(update=changes))
        times, hits = [], 0
        for _ in range(repeats):
            for cached in service.cache.folder.glob("*") if service.cache.folder.exists() else []:
                cached.unlink()
            started = time.perf_counter()
            doc = service.ask(QUESTION, export=False)
            times.append((time.perf_counter() - started) * 1000)
            hits = len(doc["hits"])
        figures[name] = {"p50_ms": _median(times, 1), "min_ms": round(min(times), 1), "hits": hits}
    figures["events"] = _count_events(index_url)
    return figures


def _count_events(index_url: str) -> int:
    conn = db.connect(index_url, readonly=True)
    try:
        return len(store.latest_events(conn, limit=1_000_000))
    finally:
        conn.close()


def index_write_rates(postgres, folder: Path, rows: int) -> dict:
    """Track summary rows and events written through the index's own functions, `BATCH` to a transaction (as the
    camera workers' writer does), into a fresh database of each kind: rows per second."""
    figures = {}
    for name, target in (
        ("postgresql", postgres.create_database(f"writes_{int(time.time())}")),
        ("sqlite", folder / "writes"),
    ):
        conn = db.connect(target)
        figures[name] = {
            "track_rows": _rate(conn, _track_batches(rows)),
            "events": _rate(conn, _event_batches(rows // 10)),
        }
        conn.close()
    return figures


BATCH = 500


def _rate(conn, batches) -> float:
    written, started = 0, time.perf_counter()
    for write, count in batches:
        with db.transaction(conn):
            write(conn)
        written += count
    return round(written / (time.perf_counter() - started))


def _track_batches(rows: int):
    base = int(time.time())
    for start in range(0, rows, BATCH):
        batch = [
            TrackSecond(f"cam-{n % 6}", base + n, n % 7, "person", (1.0, 2.0, 3.0, 4.0), 0.9)
            for n in range(start, min(rows, start + BATCH))
        ]
        yield (lambda conn, batch=batch: store.insert_track_seconds(conn, batch)), len(batch)


def _event_batches(events: int):
    base = time.time()
    for start in range(0, events, BATCH):
        records = []
        for n in range(start, min(events, start + BATCH)):
            message = alert(
                f"e{n}",
                start_ts=base + n,
                camera=f"cam-{n % 6}",
                zone="crossing",
                track_id=n,
                snapshot=f"s/{n}.jpg",
                model="m",
                frame_wh=(768, 576),
            )
            records.append(index_record(message, 0, base + n))
        yield (lambda conn, records=records: [store.record_event(conn, r) for r in records]), len(records)
