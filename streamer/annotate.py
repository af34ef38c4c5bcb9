"""Drawing on frames with supervision: zones, tracked boxes with ids, the wall-clock stamp, an event's box."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import supervision as sv

from streamer.config.cameras import ZoneConfig
from streamer.frame import TrackedFrame


def annotate(tracked: TrackedFrame, zones: dict[str, ZoneConfig]) -> np.ndarray:
    image = tracked.frame.image.copy()
    for name, zone in zones.items():
        polygon = np.array(zone.polygon, dtype=np.int32)
        image = sv.draw_polygon(image, polygon, sv.Color.YELLOW, thickness=2)
        image = sv.draw_text(image, name, sv.Point(*polygon[0]), background_color=sv.Color.YELLOW)
    detections = tracked.detections
    labels = [
        f"#{track_id} {name} {conf:.2f}"
        for track_id, name, conf in zip(
            detections.tracker_id, detections.data.get("class_name", []), detections.confidence
        )
    ]
    image = _BOXES.annotate(image, detections)
    image = _LABELS.annotate(image, detections, labels=labels)
    stamp = datetime.fromtimestamp(tracked.frame.wall_ts, timezone.utc).isoformat(timespec="milliseconds")
    return sv.draw_text(
        image, stamp, sv.Point(10 + 6 * len(stamp), 20), text_color=sv.Color.WHITE, background_color=sv.Color.BLACK
    )


_BOXES = sv.BoxAnnotator(color_lookup=sv.ColorLookup.TRACK)
_LABELS = sv.LabelAnnotator(color_lookup=sv.ColorLookup.TRACK, text_scale=0.4)


def highlight(image: np.ndarray, bbox_xyxy, text: str) -> np.ndarray:
    """The object an event is about: a thick red box and a caption above it."""
    event_box = sv.Detections(xyxy=np.array([bbox_xyxy], dtype=np.float32), class_id=np.array([0]))
    image = _EVENT_BOX.annotate(image, event_box)
    return _EVENT_LABEL.annotate(image, event_box, labels=[text])


def draw_line(image: np.ndarray, start, end, name: str) -> np.ndarray:
    image = sv.draw_line(image, sv.Point(*start), sv.Point(*end), sv.Color.YELLOW, thickness=2)
    return sv.draw_text(image, name, sv.Point(*start), background_color=sv.Color.YELLOW)


_EVENT_BOX = sv.BoxAnnotator(color=sv.Color.RED, thickness=4)
_EVENT_LABEL = sv.LabelAnnotator(color=sv.Color.RED, text_scale=0.5, text_position=sv.Position.TOP_LEFT)
