"""Prometheus metrics, defined once, written by whichever process has the figure (docs/metrics.md).

`streamer run` spawns a worker per camera, an engine per device and VLM workers, so it uses prometheus-client's
multiprocess mode: `use_folder()` points every process at `<storage_dir>/metrics` (the variable is inherited by
the spawned processes), each writes its values to memory-mapped files there, and `/metrics` on the API merges
them at scrape time. Per-camera gauges are `livemostrecent`: the supervisor calls `process_gone(pid)` when a
worker exits, so a stopped camera's fps no longer shows.

Names follow Prometheus' conventions: the `streamer_` prefix, seconds and bytes, `_total` counters, and labels
bounded by the config (camera, event type, model, integration), never by an id.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, values

ENV = "PROMETHEUS_MULTIPROC_DIR"
SOURCE_STATES = ("starting", "connecting", "streaming", "reconnecting", "stopped", "failed")

# -- cameras (each camera's worker) -----------------------------------------------------------------------------
CAMERA_FPS_IN = Gauge(
    "streamer_camera_fps_in",
    "Frames received per second over the last stats interval.",
    ["camera"],
    multiprocess_mode="livemostrecent",
)
CAMERA_FPS_DETECTED = Gauge(
    "streamer_camera_fps_detected",
    "Frames the detector ran on per second over the last stats interval.",
    ["camera"],
    multiprocess_mode="livemostrecent",
)
CAMERA_FPS_SAMPLED = Gauge(
    "streamer_camera_fps_sampled",
    "Frames sampled and tracked per second over the last stats "
    "interval (detected, or skipped as still by the motion gate).",
    ["camera"],
    multiprocess_mode="livemostrecent",
)
CAMERA_FRAMES_DECODED = Counter(
    "streamer_camera_frames_decoded_total",
    "Frames decoded (fewer than received where non-reference frames are skipped).",
    ["camera"],
)
CAMERA_FRAMES_DETECTED = Counter("streamer_camera_frames_detected_total", "Frames the detector ran on.", ["camera"])
CAMERA_FRAMES_SAMPLED = Counter(
    "streamer_camera_frames_sampled_total",
    "Frames sampled at detect.fps and tracked (detected, or skipped as still by the motion gate).",
    ["camera"],
)
CAMERA_FRAMES_MOTION = Counter(
    "streamer_camera_frames_with_motion_total", "Sampled frames the motion check found moving.", ["camera"]
)
CAMERA_FRAMES_STILL = Counter(
    "streamer_camera_frames_skipped_still_total",
    "Sampled frames that skipped the detector: still, no track alive, no keyframe due.",
    ["camera"],
)
CAMERA_MOTION_BUSY = Gauge(
    "streamer_camera_motion_busy",
    "1 while the camera's scene moves nearly all the time and every sampled frame is detected.",
    ["camera"],
    multiprocess_mode="livemostrecent",
)
CAMERA_FRAMES_DROPPED = Counter(
    "streamer_camera_frames_dropped_total",
    "Frames dropped: waited too long for detection on a live camera, or lost with a restarted engine.",
    ["camera"],
)
CAMERA_CORRUPT_PACKETS = Counter(
    "streamer_camera_corrupt_packets_total", "Packets the decoder refused, skipped.", ["camera"]
)
CAMERA_LAST_FRAME = Gauge(
    "streamer_camera_last_frame_timestamp_seconds",
    "When the camera's latest frame was tracked (Unix time).",
    ["camera"],
    multiprocess_mode="mostrecent",
)

# -- cameras (the supervisor, which sees every source's state change) ---------------------------------------------
CAMERA_SOURCE_STATE = Gauge(
    "streamer_camera_source_state",
    "1 for the source's current state, 0 for the others.",
    ["camera", "state"],
    multiprocess_mode="mostrecent",
)
CAMERA_RECONNECTS = Counter(
    "streamer_camera_reconnects_total", "Times the source was lost and reconnected to.", ["camera"]
)
WORKER_RESTARTS = Counter(
    "streamer_worker_restarts_total", "Camera worker processes restarted after a crash.", ["camera"]
)
SINK_ERRORS = Counter(
    "streamer_sink_errors_total",
    "Calls to a camera's sinks that raised; the camera went on without that sink for the call.",
    ["camera", "sink"],
)

# -- the inference engine ------------------------------------------------------------------------------------------
ENGINE_BATCH_SIZE = Histogram(
    "streamer_engine_batch_size", "Frames per batch.", ["device"], buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
)
ENGINE_INFERENCE = Histogram(
    "streamer_engine_inference_seconds",
    "One model's call on one batch.",
    ["device", "model", "backend"],
    buckets=(0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5),
)
ENGINE_QUEUE_WAIT = Histogram(
    "streamer_engine_queue_wait_seconds",
    "From a frame's arrival to its batch's start.",
    ["device"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
ENGINE_FRAMES_FAILED = Counter(
    "streamer_engine_frames_failed_total",
    "Frames whose batch the runtime failed on (answered with no detections).",
    ["device"],
)

# -- events and alerts (each publisher, after Redis accepted the message) -----------------------------------------
EVENTS = Counter("streamer_events_total", "Events begun (their `new` alert published).", ["camera", "type"])
ALERTS = Counter("streamer_alerts_total", "Alert messages published on the alert stream.", ["camera", "type", "state"])
ALERT_DELAY = Histogram(
    "streamer_alert_publish_delay_seconds",
    "From the frame's wall clock to the alert on Redis (for a live camera, the alert's latency).",
    ["camera"],
    buckets=(0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)

# -- the VLM stage (each VLM worker) --------------------------------------------------------------------------------
VLM_VERDICTS = Counter(
    "streamer_vlm_verdicts_total", "VLM jobs finished, by verdict (confirmed, rejected, invalid, failed).", ["verdict"]
)
VLM_LATENCY = Histogram(
    "streamer_vlm_latency_seconds",
    "From a VLM job's creation to its answer.",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)

# -- integrations (each output's consumer) --------------------------------------------------------------------------
INTEGRATION_UP = Gauge(
    "streamer_integration_up",
    "1 while the output's receiver takes alerts, 0 while it is down or failing (alerts wait in its group).",
    ["integration", "kind"],
    multiprocess_mode="mostrecent",
)
INTEGRATION_DELIVERED = Counter(
    "streamer_integration_deliveries_total", "Alerts an output delivered.", ["integration", "kind"]
)
INTEGRATION_RETRIES = Counter(
    "streamer_integration_retries_total", "Failed tries that were retried.", ["integration", "kind"]
)
INTEGRATION_DEAD = Counter(
    "streamer_integration_dead_letters_total",
    "Alerts given up on and put on the dead-letter stream.",
    ["integration", "kind"],
)
INTEGRATION_SKIPPED = Counter(
    "streamer_integration_skipped_total", "Alerts an output's filter or cooldown left out.", ["integration", "kind"]
)
INTEGRATION_LATENCY = Histogram(
    "streamer_integration_delivery_seconds",
    "From the alert's XADD to its delivery.",
    ["integration", "kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


def use_folder(folder: Path) -> Path:
    """Multiprocess mode for this process and every process it starts from now on; the folder is emptied first
    (values of an earlier run would be added to this one's)."""
    folder = folder.resolve()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ[ENV] = str(folder)
    values.ValueClass = values.get_value_class()  # in case prometheus_client was imported before the variable
    return folder


def process_gone(pid: int | None) -> None:
    """A worker that exited: its live gauges go (its counters stay, they are the run's totals)."""
    if pid is not None and os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, os.environ[ENV])


def count_alert(camera: str, event_type: str, state: str) -> None:
    """An alert message Redis accepted (by the camera's publisher or the VLM worker's direct writer)."""
    ALERTS.labels(camera, event_type, state).inc()
    if state == "new":
        EVENTS.labels(camera, event_type).inc()


def set_source_state(camera: str, state: str) -> None:
    for known in SOURCE_STATES:
        CAMERA_SOURCE_STATE.labels(camera, known).set(1.0 if known == state else 0.0)
