"""Home Assistant MQTT discovery: retained configs under `<discovery_prefix>/<component>/<node>/<object>/config` so
each camera appears as a device with a binary sensor per rule ("fall detected"), a sensor per watched label (the
events open now), an image entity showing the latest event's snapshot, and a connectivity sensor that is off while
the camera is offline (its `camera_offline` alerts), with no YAML written by hand."""

from __future__ import annotations

import json
import re

from streamer.config.cameras import CameraConfig
from streamer.config.integrations import MqttIntegration

DEVICE_CLASS = {
    "fall": "safety",
    "zone_intrusion": "occupancy",
    "dwell": "occupancy",
    "line_crossing": "motion",
    "count": "occupancy",
}
ON, OFF = "ON", "OFF"


def state_topic(prefix: str, camera: str, rule: str) -> str:
    return f"{prefix}/{camera}/{rule}/state"


def count_topic(prefix: str, camera: str, label: str) -> str:
    return f"{prefix}/{camera}/{label}/count"


def camera_available_topic(prefix: str, camera: str) -> str:
    """`online` / `offline`, retained: the camera's own availability (the service's is `<prefix>/available`)."""
    return f"{prefix}/{camera}/available"


def snapshot_topic(prefix: str, camera: str) -> str:
    return f"{prefix}/{camera}/snapshot"


def _object_id(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text)


def discovery_configs(settings: MqttIntegration, cameras: dict[str, CameraConfig]) -> list[tuple[str, str]]:
    """(topic, JSON) for every entity; published retained at each connect. One device a camera."""
    prefix, found = settings.topic_prefix, []
    availability = {
        "availability_topic": f"{prefix}/available",
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    for name, camera in cameras.items():
        node = _object_id(f"{prefix}_{name}")
        device = {
            "identifiers": [node],
            "name": f"{name} (streamer)",
            "manufacturer": "streamer",
            "model": "camera analytics",
        }
        for component, object_id, entity in _camera_entities(settings, name, camera):
            entity = {**entity, "unique_id": f"{node}_{object_id}", "device": device, **availability}
            topic = f"{settings.discovery_prefix}/{component}/{node}/{_object_id(object_id)}/config"
            found.append((topic, json.dumps(entity, sort_keys=True)))
    return found


def _camera_entities(settings: MqttIntegration, name: str, camera: CameraConfig) -> list[tuple[str, str, dict]]:
    """(component, object id, entity) of one camera: a binary sensor a rule, an open-events count a class, its
    connectivity, and its latest snapshot when those are published."""
    prefix = settings.topic_prefix
    entities = [
        (
            "binary_sensor",
            rule.rule_name,
            {
                "name": rule.rule_name.replace("_", " "),
                "state_topic": state_topic(prefix, name, rule.rule_name),
                "payload_on": ON,
                "payload_off": OFF,
                "device_class": DEVICE_CLASS.get(rule.type, "problem"),
            },
        )
        for rule in camera.rules
    ]
    for label in sorted({label for rule in camera.rules for label in rule.classes}):
        count = {
            "name": f"{label} events open",
            "state_topic": count_topic(prefix, name, label),
            "state_class": "measurement",
            "icon": "mdi:counter",
        }
        entities.append(("sensor", f"{label}_count", count))
    online = {
        "name": "online",
        "state_topic": camera_available_topic(prefix, name),
        "payload_on": "online",
        "payload_off": "offline",
        "device_class": "connectivity",
    }
    entities.append(("binary_sensor", "online", online))
    if settings.snapshots:
        image = {"name": "latest event", "image_topic": snapshot_topic(prefix, name), "content_type": "image/jpeg"}
        entities.append(("image", "snapshot", image))
    return entities
