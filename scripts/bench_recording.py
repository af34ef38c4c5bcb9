"""Recording figures: CPU cost per camera (remux vs. decode vs. re-encode), index insert rate, 60 s clip export.

    python scripts/bench_recording.py data/samples/bikes.mp4 [--loops 6] [--repeats 3]

Prints one JSON document. CPU is process time (all threads) per second of video, median of the repeats; the
baseline in the same run is demuxing the file alone (what any recorder pays to read the camera).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av

from streamer.config.cameras import CameraConfig
from streamer.config.recording import RecordConfig
from streamer.index import db
from streamer.index.rows import TrackSecond
from streamer.index.writer import IndexWriter
from streamer.record.export import export_clip
from streamer.record.recorder import Recorder
from streamer.record.segment import REMUX_CODECS, TranscodedSegmentFile
from streamer.source.reader import VideoSource

START = "2026-11-21T09:00:00+00:00"


def looped(video: Path, loops: int, folder: Path) -> tuple[Path, float]:
    """The sample played `loops` times back to back, remuxed into one file (no re-encode)."""
    out = folder / "looped.mp4"
    with av.open(str(out), "w") as dst:
        target = None
        offset = 0
        for _ in range(loops):
            with av.open(str(video)) as src:
                stream = src.streams.video[0]
                target = target or dst.add_stream_from_template(stream, opaque=True)
                last = 0
                for packet in src.demux(stream):
                    if packet.dts is None:
                        continue
                    packet.pts += offset
                    packet.dts += offset
                    last = max(last, packet.pts + (packet.duration or 0))
                    packet.stream = target
                    dst.mux(packet)
                offset = last
    with av.open(str(out)) as check:
        stream = check.streams.video[0]
        return out, float(stream.duration * stream.time_base)


def cpu_of(work) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def demux_only(video: Path) -> None:
    with av.open(str(video)) as src:
        for _ in src.demux(video=0):
            pass


def decode_all(video: Path) -> None:
    with av.open(str(video)) as src:
        src.streams.video[0].thread_type = "AUTO"
        for _ in src.decode(video=0):
            pass


def record_with(video: Path, storage: Path, force_transcode: bool = False) -> None:
    config = CameraConfig(url=str(video), start_time=START, record=RecordConfig(segment_s=10))
    # force_transcode: the path an MPEG-4 part 2 camera takes (decode + H.264 encode), measured on the same video
    recorder = Recorder(
        storage, "bench", config.record, 0, live=False, remux_codecs=frozenset() if force_transcode else REMUX_CODECS
    )
    for _ in _packets_only(VideoSource("bench", config, threading.Event(), packet_tap=recorder)):
        pass
    recorder.close(300)


def _packets_only(source: VideoSource):
    """The recorder's share: the source's own decode for detection is not counted (it runs anyway)."""
    source._sampler.take = lambda pts_s: False  # noqa: SLF001 - no frame conversion, as with detection off
    return source.frames()


def bench_cpu(video: Path, seconds: float, repeats: int, folder: Path) -> dict:
    runs: dict[str, list[float]] = {
        "demux_only": [],
        "source_decode": [],
        "source_decode_plus_remux": [],
        "source_decode_plus_reencode": [],
        "decode_every_frame_alone": [],
    }
    for index in range(repeats):
        runs["demux_only"].append(cpu_of(lambda: demux_only(video)))
        runs["decode_every_frame_alone"].append(cpu_of(lambda: decode_all(video)))
        runs["source_decode"].append(
            cpu_of(
                lambda: [
                    None
                    for _ in _packets_only(
                        VideoSource("bench", CameraConfig(url=str(video), start_time=START), threading.Event())
                    )
                ]
            )
        )
        remux, reencode = folder / f"remux{index}", folder / f"reenc{index}"
        runs["source_decode_plus_remux"].append(cpu_of(lambda: record_with(video, remux)))  # noqa: B023 (called here)
        runs["source_decode_plus_reencode"].append(cpu_of(lambda: record_with(video, reencode, True)))  # noqa: B023
    per_s = {name: round(1000 * statistics.median(values) / seconds, 2) for name, values in runs.items()}
    per_s["recorder_remux_only"] = round(per_s["source_decode_plus_remux"] - per_s["source_decode"], 2)
    per_s["recorder_reencode_only"] = round(per_s["source_decode_plus_reencode"] - per_s["source_decode"], 2)
    return {"cpu_ms_per_video_second_median": per_s, "repeats": repeats}


def bench_index(folder: Path, rows: int = 100_000) -> dict:
    writer = IndexWriter(folder / "index-bench", "bench")
    batch = 50  # a busy camera: 50 tracks a second
    started = time.perf_counter()
    for second in range(rows // batch):
        writer.add_track_seconds(
            [
                TrackSecond("bench", 1795251600 + second, track, "person", (1.0, 2.0, 3.0, 4.0), 0.9)
                for track in range(batch)
            ]
        )
    handed_over = time.perf_counter() - started
    writer.flush(120)
    total = time.perf_counter() - started
    writer.close()
    return {
        "track_rows": rows,
        "rows_per_s_committed": round(rows / total),
        "live_path_handover_us_per_row": round(1e6 * handed_over / rows, 2),
    }


def bench_export(video: Path, folder: Path, repeats: int) -> dict:
    storage = folder / "export-store"
    record_with(video, storage)
    conn = db.connect(storage)
    start = datetime_ts(START)
    times: dict[str, list[float]] = {"remux_60s": [], "annotated_60s": []}
    for index in range(repeats):
        for name, annotate in (("remux_60s", False), ("annotated_60s", True)):
            started = time.perf_counter()
            export_clip(storage, conn, "bench", start, start + 60, folder / f"{name}{index}.mp4", annotate=annotate)
            times[name].append(time.perf_counter() - started)
    return {name + "_s_median": round(statistics.median(values), 3) for name, values in times.items()}


def datetime_ts(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--loops", type=int, default=6, help="play the sample this many times (6 × 10 s = 60 s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a short run of every part (make test): not figures")
    args = parser.parse_args()
    if args.smoke:
        args.loops, args.repeats = 1, 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video, seconds = looped(args.video, args.loops, folder)
        with av.open(str(video)) as probe:
            stream = probe.streams.video[0]
            source = {
                "codec": stream.codec_context.name,
                "size": f"{stream.width}x{stream.height}",
                "seconds": round(seconds, 2),
                "fps": float(stream.average_rate),
            }
        result = {
            "video": source,
            **bench_cpu(video, seconds, args.repeats, folder),
            "index": bench_index(folder),
            "export": bench_export(video, folder, args.repeats),
            "encoder": TranscodedSegmentFile.ENCODER,
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
