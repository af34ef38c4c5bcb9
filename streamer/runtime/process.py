"""Entry point of a camera's worker process (spawned, so CUDA and threads start clean)."""

from __future__ import annotations

import logging
import signal
import sys
import time
from multiprocessing.queues import Queue
from zoneinfo import ZoneInfo

from streamer.alerts.wiring import AlertTarget
from streamer.config.cameras import CameraConfig, SourceKind
from streamer.engine.protocol import EngineLink
from streamer.logs import setup_logging
from streamer.parent import stop_when_orphaned
from streamer.runtime.control import ControlInbox
from streamer.runtime.options import EXIT_CAMERA_FAILED, EXIT_CRASHED, WorkerOptions
from streamer.runtime.stop import SignalStop
from streamer.source.state import SourceState, StateChange


def _outputs(name: str, camera: CameraConfig, options: WorkerOptions, target: AlertTarget | None):
    """The recorder (fed by the source) and the frame sinks: the track summary, then the event stage."""
    from streamer.alerts.health import HealthReporter
    from streamer.config.recording import RecordMode
    from streamer.index.writer import IndexWriter
    from streamer.media.files import MediaFiles
    from streamer.record.recorder import Recorder
    from streamer.runtime.live_view import LiveView
    from streamer.runtime.track_summary import TrackSummarySink

    health = None
    if target is not None:
        publisher = target.publisher(f"alerts-{name}")  # started even without rules: it delivers an earlier run's spool
        health = HealthReporter(publisher, target.streams)
    index = IndexWriter(
        options.index_target,
        name,
        on_state=None if health is None else health.take,
    )
    files = MediaFiles.for_storage(options.storage_dir, options.storage)

    recorder = None
    if camera.record.mode is not RecordMode.OFF:
        recorder = Recorder(
            options.storage_dir,
            name,
            camera.record,
            options.min_free_bytes,
            live=camera.kind is SourceKind.LIVE,
            on_state=None if health is None else health.take,
            index=options.index_target,
            file_done=files.finished,
        )
    relay = None
    if options.share_live and target is not None and target.url is not None:
        from streamer.runtime.live_relay import LiveRelay

        relay = LiveRelay(target.url, target.config.prefix, name, camera.live_every_s).send
    live = LiveView(options.storage_dir, name, dict(camera.zones), camera.live_every_s, relay)
    sinks: list = [TrackSummarySink(name, index), live]
    taps: list = []
    if target is not None:
        from streamer.runtime.live_video import LiveVideo, camera_shapes

        # the console's live video, while watched
        video = LiveVideo(target.url, target.config.prefix, name, shapes=camera_shapes(camera))
        sinks.append(video)
        taps.append(video)
        sinks.append(_event_stage(name, camera, options, target, publisher, index, recorder, files))
    sinks.append(_Closing(index))
    return sinks, recorder, live, taps


def _event_stage(
    name: str, camera: CameraConfig, options: WorkerOptions, target: AlertTarget, publisher, index, recorder, files
):
    """The one place a camera's event path is put together: rules → lifecycle → event sinks: the snapshot, the alert
    message (the index keeps a copy of each), the recorder's event windows, the event clips, the VLM sampler."""
    from streamer.alerts.messages import AlertMessages, index_record
    from streamer.alerts.outbox import AlertOutbox
    from streamer.events.lifecycle import EventLifecycle
    from streamer.events.snapshots import SnapshotSink, SnapshotWriter
    from streamer.events.stage import EventStage
    from streamer.record.event_clips import EventClipper
    from streamer.record.event_windows import RecorderWindows

    tz = ZoneInfo(options.timezone)
    messages = AlertMessages(camera, tz, options.vlm)
    sampler, hold = _vlm_outputs(name, camera, options, target, publisher, files, messages)

    def indexed(event, payload) -> None:
        index.add_event(index_record(payload, event.seq, event.observed_ts))

    outbox = AlertOutbox(name, messages, publisher, target.streams, hold, copy=indexed)
    sinks: list = [SnapshotSink(SnapshotWriter(options.storage_dir, camera, on_written=files.finished)), outbox]
    if recorder is not None:
        sinks += [
            RecorderWindows(recorder),
            EventClipper(
                options.storage_dir, recorder, camera.record, outbox.send_clip, index=options.index_target, files=files
            ),
        ]
    if sampler is not None:
        sinks.append(sampler)  # last, so it closes first: its waiting clips go before the event clips are cut
    return EventStage(name, EventLifecycle.for_camera(name, camera), sinks, tz)


def _vlm_outputs(
    name: str, camera: CameraConfig, options: WorkerOptions, target: AlertTarget, publisher, files, messages
):
    """The sampler that sends each event's clip to the VLM queue, and the hold of chosen `new` alerts."""
    if options.vlm is None:
        return None, None
    from streamer.alerts.hold import AlertHold
    from streamer.alerts.redis_access import connect
    from streamer.vlm.sampler import VlmSampler
    from streamer.vlm.submit import JobSubmitter

    timeout = target.config.connect_timeout_s
    submitter = JobSubmitter.for_redis(
        name,
        options.storage_dir,
        options.vlm,
        target.url,
        target.streams,
        timeout,
        target.config.heartbeat_s,
        on_frames=files.publish_now,
    )
    sampler = VlmSampler(
        name,
        camera,
        options.vlm,
        submitter,
        alert_json=lambda event: messages.payload(event).to_json(),
        on_close=submitter.close,
    )
    hold = None
    if options.vlm.hold.types:
        hold = AlertHold(
            options.vlm.hold.types,
            options.vlm.hold.timeout_s,
            lambda: connect(target.url, timeout),
            target.config.prefix,
            publisher.submit,
        )
    return sampler, hold


class _Closing:
    """A sink that only closes something when the stream is over (the index writer, after the others)."""

    def __init__(self, closeable):
        self.closeable = closeable

    def __call__(self, tracked) -> None:
        pass

    def close(self) -> None:
        self.closeable.close()


def worker_main(
    name: str,
    camera: CameraConfig,
    options: WorkerOptions,
    log_level: str,
    log_format: str,
    changes: Queue,
    target: AlertTarget | None = None,
    engine: EngineLink | None = None,
    controls: Queue | None = None,
) -> None:
    """The supervisor asks for a stop with SIGTERM; Ctrl-C reaches the whole process group, and only the
    supervisor decides about it. No lock is shared with the supervisor, so killing this process wedges nothing.
    `changes` carries the source's states up; `controls` carries reloaded settings and stop reasons down."""
    stop = SignalStop()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop.set)
    setup_logging(log_level, log_format)
    stop_when_orphaned(stop.set, f"worker {name}")

    def report(change: StateChange) -> None:
        changes.put(change)  # a frozen dataclass of plain values and an enum: pickled as it is

    log = logging.getLogger("streamer.worker")
    try:
        sinks, recorder, live, taps = _outputs(name, camera, options, target)
    except _unreachable() as error:  # the site's index away as the camera starts: tried again, with backoff
        log.error("camera cannot start yet: %s", str(error).splitlines()[0], extra={"fields": {"camera": name}})
        code = EXIT_CRASHED
    except Exception as error:  # a spool held by another process, a rule that cannot be built
        log.error("camera cannot start: %s", error, extra={"fields": {"camera": name}})
        report(StateChange(name, None, SourceState.FAILED, str(error), time.time()))
        code = EXIT_CAMERA_FAILED
    else:
        # tracking and the engine client: imported by the worker, never by the supervisor
        from streamer.runtime.worker import CameraWorker

        try:
            code = CameraWorker(
                name,
                camera,
                options,
                stop,
                on_state=report,
                sinks=sinks,
                recorder=recorder,
                engine=engine,
                on_stats=live.write_figures,
                packet_taps=taps,
                controls=ControlInbox(controls),
            ).run()
        except Exception:
            log.exception("worker crashed", extra={"fields": {"camera": name}})
            code = EXIT_CRASHED
    changes.close()
    changes.join_thread()  # deliver the last state changes before the process ends
    sys.exit(code)


def _unreachable() -> tuple[type[BaseException], ...]:
    from streamer.index.db import UNREACHABLE

    return UNREACHABLE
