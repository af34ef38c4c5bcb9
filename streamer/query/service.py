"""Answering a question over the stores: understand it, take the candidates in its range from the index, rank
them by meaning, let the VLM ground the best ones (and, with --scan, footage without events), then cache the
answer and make each hit's clip and snapshot. Reads the index only; writes under `<storage>/query/`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from streamer.config.root import StreamerConfig
from streamer.index import db, search
from streamer.index.search import StoredEvent
from streamer.media.files import MediaFiles
from streamer.query import candidates
from streamer.query.cache import ResultCache
from streamer.query.document import checked
from streamer.query.embed import Embedder
from streamer.query.ground import Grounder, GroundingReport, GroundWindow, WindowAnswer
from streamer.query.hits import Hit, HitKind, HitSource
from streamer.query.media import HitMedia, MediaUnavailable, UnknownMedia
from streamer.query.question import Question, QuestionError, understand
from streamer.query.rank import ordered, rank, score_of
from streamer.query.report import DOC_VERSION, hit_json, one_line, searched_json, understood_json
from streamer.query.scan import ScanPlan, plan_scan
from streamer.record.cuts import CutCache
from streamer.vlm.backends import VlmBackend, build_backend

SCAN_RELEVANCE = 0.8  # the VLM said the asked thing happens there
_SETTLED = ("answered", "skipped", "not_configured")  # VLM outcomes a second asking would repeat


class NoIndex(RuntimeError):
    pass


class QueryService:
    def __init__(
        self,
        config: StreamerConfig,
        embedder: Embedder | None = None,
        backend_factory: Callable[[], VlmBackend] | None = None,
    ):
        self.config = config
        self.storage_dir = config.storage_dir
        self.tz = ZoneInfo(config.timezone)
        folder = self.storage_dir / "query"
        self.embedder = embedder or Embedder(folder / "embeddings.sqlite3")
        self.cache = ResultCache(folder / "cache")
        self.cuts = CutCache.for_storage(self.storage_dir, config.storage)
        self.files = MediaFiles.for_storage(self.storage_dir, config.storage)  # local copies, else the object store
        self.media = HitMedia(self.files, self.open_index, config.query.clip_pad_s, self.cuts)
        # without a class list the detector's labels are known only from what it tracked
        self._keeps_every_class = any(c.detect.model.classes is None for c in config.cameras.values())
        self.grounder = None
        if config.vlm is not None:
            factory = backend_factory or (lambda: build_backend(config.vlm))
            self.grounder = Grounder(config.vlm, self.files, factory, config.query.vlm_timeout_s, self.tz)

    def open_index(self) -> Connection:
        if not db.exists(self.config.index_target):
            raise NoIndex(f"no recordings index in {self.storage_dir} yet: has `streamer run` recorded anything?")
        return db.connect(self.config.index_target, readonly=True)

    def ask(
        self,
        text: str,
        camera: str | Sequence[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        scan: bool = False,
        export: bool = True,
        now: float | None = None,
    ) -> dict:
        """The answer document. Raises QuestionError (bad question or flags) and NoIndex."""
        started, now = time.monotonic(), time.time() if now is None else now
        conn = self.open_index()
        try:
            labels = search.labels_seen(conn, tracks_too=self._keeps_every_class)
            question = understand(text, self.config, self.tz, now, labels, camera, since, until)
            extent = search.earliest(conn, question.cameras), search.latest(conn, question.cameras)
            since_ts, until_ts = self._range(question, extent, now)
            key = self._cache_key(conn, question, extent, since_ts, until_ts, scan)
            doc = self.cache.get(key)
            if doc is None:
                doc = self._answer(conn, question, since_ts, until_ts, scan, now)
                if doc["vlm"]["status"] in _SETTLED:  # a timeout, a busy or failing VLM is tried again next time
                    self.cache.put(key, doc)
            else:
                doc["cached"] = True
        finally:
            conn.close()
        if export:
            self.export(doc)
        doc["elapsed_s"] = round(time.monotonic() - started, 3)
        return checked(doc)

    def _cache_key(
        self,
        conn: Connection,
        question: Question,
        extent: tuple[float | None, float | None],
        since: float,
        until: float,
        scan: bool,
    ) -> str:
        """The range as far as it holds anything: "everything" asked twice a second apart is the same question,
        while the fingerprint makes any new event or recording a new one."""
        first, last = extent[0] or since, extent[1] or until
        held = (round(max(since, first), 3), round(min(until, last), 3))
        fingerprint = search.fingerprint(conn, question.cameras)
        return ResultCache.key(
            " ".join(question.text.lower().split()),
            question.cameras,
            held,
            scan,
            fingerprint,
            self.config.query.model_dump(),
            None if self.config.vlm is None else self.config.vlm.model_dump(mode="json"),
        )

    def _range(self, question: Question, extent: tuple[float | None, float | None], now: float) -> tuple[float, float]:
        """The asked range, or all that is recorded up to now; a file replayed with a start_time ahead of the
        clock has recordings past now, and those count as the present."""
        from streamer.core.timefmt import iso_time

        present = max(now, extent[1] or now)
        since, until = question.time.since, question.time.until
        if since is not None and since > present:
            raise QuestionError(
                f"the time range starts at {iso_time(since, self.tz)}, in the future (now is "
                f"{iso_time(now, self.tz)}){'' if until is None else '; it ends at ' + iso_time(until, self.tz)}"
            )
        if since is None:
            since = extent[0] or now - 3600
        until = present if until is None else min(until, present)
        return since, max(until, since + 1e-3)

    def _answer(self, conn: Connection, question: Question, since: float, until: float, scan: bool, now: float) -> dict:
        events = search.events_between(conn, question.cameras, since, until)
        hits = candidates.event_hits(events)
        hits += candidates.watch_hits(search.watch_findings(conn, question.cameras, since, until))
        hits += candidates.presence_hits(conn, question, self.config, since, until)
        terms = search.search_terms(question.subject.split())
        keywords = (
            search.keyword_scores(conn, terms, [e.event_id for e in events]) if terms and not question.only_time else {}
        )
        ranked = rank(hits, question, self.embedder, keywords, self.config.query)
        notes: list[str] = []
        report, plan = self._ground(conn, question, ranked, events, since, until, scan, notes)
        if report is not None:
            ranked = _apply(ranked, report)
        ranked = ranked[: self.config.query.max_hits]
        coverage = search.coverage(conn, question.cameras, since, until)
        doc = {
            "version": DOC_VERSION,
            "question": question.text,
            "understood": understood_json(question),
            "searched": searched_json(question, since, until, coverage, self.tz),
            "hits": [hit_json(hit, self.tz) for hit in ranked],
            "vlm": self._vlm_json(report, plan),
            "notes": notes,
            "cached": False,
        }
        doc["answer"] = one_line(doc, ranked, self.tz, now)
        for hit in ranked:
            self.media.register(hit)
        return doc

    def _ground(
        self,
        conn: Connection,
        question: Question,
        ranked: list[Hit],
        events: list[StoredEvent],
        since: float,
        until: float,
        scan: bool,
        notes: list[str],
    ) -> tuple[GroundingReport | None, ScanPlan | None]:
        if self.grounder is None:
            notes.append(
                "answered from the index alone: no VLM is configured (`vlm:` in the config)"
                + ("; --scan needs one" if scan else "")
            )
            return None, None
        if question.only_time:
            return None, None
        windows = [self._window(hit, index) for index, hit in enumerate(ranked[: self.config.query.ground_top_k])]
        plan = None
        if scan:
            # footage that an event or a window already asked about covers is not scanned again
            pad = self.config.vlm.sampling
            busy = [(w.camera, w.start_ts, w.end_ts) for w in windows]
            busy += [(e.camera, e.start_ts - pad.pre_s, (e.end_ts or e.start_ts) + pad.post_s) for e in events]
            plan = plan_scan(
                conn, question, since, until, busy, self.config.query.scan_window_s, self.config.query.scan_max_windows
            )
            windows += list(plan.windows)
            if plan.total > len(plan.windows):
                notes.append(
                    f"--scan looked at the first {len(plan.windows)} of {plan.total} windows "
                    f"(query.scan_max_windows); narrow the time range to see the rest"
                )
        if not windows:
            return None, plan
        report = self.grounder.ground(question.text, windows, conn)
        if report.status not in ("answered", "skipped"):
            notes.append(f"the VLM did not answer ({report.status}: {report.detail}); answered from the index alone")
        return report, plan

    def _window(self, hit: Hit, index: int) -> GroundWindow:
        sampling = self.config.vlm.sampling
        start = hit.start_ts - sampling.pre_s
        end = min((hit.end_ts or hit.start_ts) + sampling.post_s, start + sampling.max_window_s)
        return GroundWindow(hit.camera, start, end, index)

    def _vlm_json(self, report: GroundingReport | None, plan: ScanPlan | None) -> dict:
        if self.grounder is None:
            return {
                "status": "not_configured",
                "model": None,
                "detail": "no `vlm:` section in the config",
                "windows": 0,
            }
        scanned = (
            None
            if plan is None
            else {
                "windows": plan.total,
                "sent": len(plan.windows),
                "seconds": plan.seconds,
                "narrowed_by_classes": list(plan.narrowed_by),
            }
        )
        if report is None:
            return {"status": "skipped", "model": None, "detail": "nothing to look at", "windows": 0, "scan": scanned}
        verdicts: dict[str, int] = {}
        for answer in report.answers:
            verdicts[answer.verdict] = verdicts.get(answer.verdict, 0) + 1
        return {
            "status": report.status,
            "model": report.model,
            "detail": report.detail,
            "windows": len(report.answers),
            "verdicts": verdicts,
            "seconds": round(report.seconds, 3),
            "scan": scanned,
        }

    def export(self, doc: dict) -> None:
        """Make each hit's clip and snapshot (kept by id: a second ask does not cut them again)."""
        for hit in doc["hits"]:
            try:
                hit["clip"], hit["clip_error"] = self.media.relative(self.media.clip(hit["id"])), None
            except (MediaUnavailable, UnknownMedia) as error:
                hit["clip"], hit["clip_error"] = None, str(error)
            try:
                hit["snapshot"], hit["snapshot_error"] = self.media.relative(self.media.snapshot(hit["id"])), None
            except (MediaUnavailable, UnknownMedia) as error:
                hit["snapshot"], hit["snapshot_error"] = None, str(error)


def _apply(ranked: list[Hit], report: GroundingReport) -> list[Hit]:
    """Refine the hits the VLM looked at; add what it found in --scan windows."""
    hits = list(ranked)
    if report.status != "answered":
        for window in report.asked:
            if window.hit_index is not None:
                hits[window.hit_index] = replace(hits[window.hit_index], grounding=report.status)
        return hits
    added = []
    for answer in report.answers:
        index = answer.window.hit_index
        if index is None:
            added += [_scan_hit(answer, span) for span in answer.spans if answer.verdict == "confirmed"]
        else:
            hits[index] = _refined(hits[index], answer)
    return ordered([replace(h, score=round(score_of(h, h.relevance), 4)) for h in hits + added])


def _refined(hit: Hit, answer: WindowAnswer) -> Hit:
    if answer.verdict != "confirmed" or not answer.spans:
        return replace(hit, grounding=answer.verdict)
    span = min(answer.spans, key=lambda s: abs(s.start_ts - hit.start_ts))
    return replace(
        hit,
        start_ts=span.start_ts,
        end_ts=span.end_ts,
        source=HitSource.VLM_GROUNDING,
        grounding="confirmed",
        description=span.description or hit.description,
        risk_level=span.risk_level or hit.risk_level,
        index_start_ts=hit.start_ts,
    )


def _scan_hit(answer: WindowAnswer, span) -> Hit:
    return Hit(
        camera=answer.window.camera,
        kind=HitKind.SCAN,
        type="scan",
        label=span.label,
        start_ts=span.start_ts,
        end_ts=span.end_ts,
        confidence=None,
        source=HitSource.VLM_GROUNDING,
        verification="unverified",
        texts=(span.label,),
        risk_level=span.risk_level,
        description=span.description,
        relevance=SCAN_RELEVANCE,
        grounding="confirmed",
    )
