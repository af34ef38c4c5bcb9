"""The console's live view: what one picture costs a camera worker (draw the tracks and zones, encode the JPEG,
replace the file), against the baseline of decoding one second of the same video (what the worker pays anyway).

    python scripts/bench_live_view.py data/samples/bikes.mp4 [--repeats 50] [--smoke]

Prints one JSON document; medians. At the default `live_every_s: 1` a camera pays one picture a second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import cv2
import numpy as np
import supervision as sv

from streamer.config.cameras import ZoneConfig
from streamer.frame import Frame, TrackedFrame
from streamer.runtime.live_view import LiveView


def tracked_frame(image: np.ndarray) -> tuple[TrackedFrame, dict[str, ZoneConfig]]:
    height, width = image.shape[:2]
    boxes = np.array([[0.1, 0.2, 0.3, 0.9], [0.5, 0.3, 0.7, 0.95], [0.75, 0.1, 0.95, 0.6]]) * [
        width,
        height,
        width,
        height,
    ]
    detections = sv.Detections(
        xyxy=boxes,
        confidence=np.array([0.9, 0.8, 0.7]),
        class_id=np.array([0, 1, 2]),
        tracker_id=np.array([3, 4, 5]),
        data={"class_name": np.array(["person", "bicycle", "car"])},
    )
    zone = ZoneConfig(
        polygon=[
            [int(width * 0.3), int(height * 0.4)],
            [int(width * 0.7), int(height * 0.4)],
            [int(width * 0.7), height - 1],
            [int(width * 0.3), height - 1],
        ]
    )
    return TrackedFrame(Frame("bench", 0, 0.0, time.time(), image), detections), {"crossing": zone}


def decode_second_ms(video: Path, fps: float) -> float:
    """CPU to decode one second of the video to pixels: the baseline."""
    started = time.process_time()
    frames = 0
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="bgr24")
            frames += 1
    return (time.process_time() - started) * 1000 / (frames / fps)


def picture_ms(image: np.ndarray, repeats: int, folder: Path) -> tuple[float, int]:
    tracked, zones = tracked_frame(image)
    view = LiveView(folder, "bench", zones, every_s=0.0001)
    times = []
    for _ in range(repeats):
        view._next = 0.0  # every call draws: the throttle is what the camera's setting decides
        started = time.perf_counter()
        view(tracked)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), view.picture.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="a short run (make test): not figures")
    args = parser.parse_args()
    repeats = 3 if args.smoke else args.repeats
    with av.open(str(args.video)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        image = next(container.decode(stream)).to_ndarray(format="bgr24")
    result: dict[str, object] = {"video": str(args.video), "repeats": repeats, "smoke": args.smoke}
    with tempfile.TemporaryDirectory() as folder:
        for label, frame in (("source", image), ("1920x1080", cv2.resize(image, (1920, 1080)))):
            ms, size = picture_ms(frame, repeats, Path(folder))
            result[label] = {
                "picture_ms_median": round(ms, 2),
                "jpeg_bytes": size,
                "share_of_a_core_at_1_per_s": f"{ms / 10:.2f} %",
            }
    baseline = decode_second_ms(args.video, fps)
    result["baseline_decode_ms_per_video_second"] = round(baseline, 1)
    result["picture_vs_decoding_a_second"] = f"{100 * result['source']['picture_ms_median'] / baseline:.1f} %"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
