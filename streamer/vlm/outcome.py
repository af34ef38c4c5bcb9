"""A finished job as alerts: an `update` of the verified event (confirmed, rejected, or unverified when no valid
answer came), or a new event for a watch prompt's sighting. The VLM worker publishes them with
`streamer.alerts.direct.AlertWriter` before it acknowledges the job: a job redone after a crash sends the same
message ids, which Redis drops."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import tzinfo

from streamer.alerts.payload import AlertPayload, AlertSource, Verification, VlmSummary
from streamer.core.timefmt import iso_time
from streamer.vlm.finding import Finding
from streamer.vlm.job import VlmJob


def vlm_summary(
    job: VlmJob,
    model: str,
    status: str,
    attempts: int,
    finding: Finding | None,
    tz: tzinfo | None,
    error: str | None = None,
) -> VlmSummary:
    start = finding.start_ts if finding else None
    end = finding.end_ts if finding else None
    return VlmSummary(
        status=status,
        model=model,
        job_id=job.job_id,
        window_start_ts=round(job.window_start_ts, 3),
        window_end_ts=round(job.window_end_ts, 3),
        label=finding.label if finding else None,
        start_ts=start,
        start_iso=None if start is None else iso_time(start, tz),
        end_ts=end,
        end_iso=None if end is None else iso_time(end, tz),
        bbox_xyxy=finding.bbox_xyxy if finding else None,
        track_id=finding.track_id if finding else None,
        latency_s=round(max(0.0, time.time() - job.created_ts), 3),
        attempts=attempts,
        error=error,
    )


def verify_update(job: VlmJob, summary: VlmSummary, finding: Finding | None) -> AlertPayload:
    """The event's alert as the job saw it, now as an `update` with the verdict."""
    base = json.loads(job.alert)
    verdict = finding.verdict if finding and summary.status == "answered" else Verification.UNVERIFIED.value
    return AlertPayload.model_validate(
        {
            **base,
            "state": "update",
            "verification": verdict,
            "risk_level": finding.risk_level if finding else None,
            "description": finding.description if finding else None,
            "vlm": summary.model_dump(),
        }
    )


def watch_event(
    job: VlmJob, summary: VlmSummary, finding: Finding, tz: tzinfo | None
) -> list[tuple[str, AlertPayload]]:
    """A sighting of a watch prompt: a whole event at once, `new` then `end`, confirmed by the VLM."""
    event_id = f"{job.camera}-{hashlib.sha1(job.job_id.encode()).hexdigest()[:16]}"
    start, end = finding.start_ts, max(finding.end_ts, finding.start_ts)
    nearest = min(job.frames, key=lambda f: abs(f.wall_ts - start))
    width, height = job.frame_wh
    fields = dict(
        event_id=event_id,
        camera=job.camera,
        type="watch",
        label=finding.label or job.rule,
        track_id=finding.track_id,
        start_ts=start,
        start_iso=iso_time(start, tz),
        confidence=1.0,
        bbox_xyxy=finding.bbox_xyxy or (0.0, 0.0, float(width), float(height)),
        frame_wh=(width, height),
        verification="confirmed",
        risk_level=finding.risk_level or job.risk_level,
        description=finding.description,
        snapshot=nearest.path,
        clip=None,
        source=AlertSource(rule=job.rule, model=summary.model, signal="vlm_watch"),
        vlm=summary,
    )
    new = AlertPayload(state="new", end_ts=None, end_iso=None, **fields)
    ended = AlertPayload(state="end", end_ts=end, end_iso=iso_time(end, tz), **fields)
    return [(f"{event_id}:0:new", new), (f"{event_id}:1:end", ended)]
