"""MQTT, in the topics Frigate users know: `<prefix>/available` (online, or offline by the last will),
`<prefix>/events` (every alert message), `<prefix>/<camera>/<rule>/state` (ON while one of the rule's events is
open), `<prefix>/<camera>/<label>/count` (events of that label open now) and `<prefix>/<camera>/snapshot` (the
latest event's JPEG), plus Home Assistant discovery. An alert counts as delivered once the broker acknowledged
every message of it (QoS 1); while the broker is away the consumer waits, holding the group's position, and
paho sends what was in flight again when it is back, so alerts arrive in order."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from streamer.alerts.payload import CAMERA_OFFLINE
from streamer.config.cameras import CameraConfig
from streamer.config.integrations import MqttIntegration
from streamer.integrations.delivery import Abandoned, Alert, LinkReport
from streamer.integrations.homeassistant import (
    OFF,
    ON,
    camera_available_topic,
    count_topic,
    discovery_configs,
    snapshot_topic,
    state_topic,
)
from streamer.storage import UnsafePath, resolve_inside

POLL_S = 0.05


class MqttOutput:
    kind = "mqtt"

    def __init__(self, name: str, config: MqttIntegration, cameras: dict[str, CameraConfig], storage_dir: Path):
        self.name = name
        self.config = config
        self.cameras = cameras
        self.storage_dir = storage_dir
        self.prefix = config.topic_prefix
        self._open: dict[tuple[str, str], set[str]] = defaultdict(set)  # (camera, rule) → open event ids
        self._open_labels: dict[tuple[str, str], set[str]] = defaultdict(set)  # (camera, label) → open event ids
        self._connected = threading.Event()
        self._first_connect = True
        self._closing = False
        self.on_link: LinkReport = lambda _state, _reason: None
        self.client = self._client()

    def start(self) -> None:
        parts = urlsplit(self.config.url)
        self.client.connect_async(
            parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883), keepalive=self.config.keepalive_s
        )
        self.client.loop_start()

    def _client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id or f"streamer-{self.name}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password)
        if self.config.url.startswith("mqtts://"):
            client.tls_set(ca_certs=self.config.ca_file)
            client.tls_insecure_set(self.config.tls_insecure)
        client.will_set(f"{self.prefix}/available", "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.max_inflight_messages_set(100)
        client.on_connect = self._on_connect
        client.on_connect_fail = lambda _client, _userdata: self.on_link("down", f"cannot connect to {self._broker()}")
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.on_link("down", f"the broker {self._broker()} refused the connection: {reason_code}")
            return
        client.publish(f"{self.prefix}/available", "online", qos=1, retain=True)
        if self.config.discovery:
            for topic, config in discovery_configs(self.config, self.cameras):
                client.publish(topic, config, qos=1, retain=True)
        if self._first_connect:  # nothing is open when the service starts: clear what an earlier run left ON
            for camera_name, camera in self.cameras.items():
                client.publish(camera_available_topic(self.prefix, camera_name), "online", qos=1, retain=True)
                for rule in camera.rules:
                    client.publish(state_topic(self.prefix, camera_name, rule.rule_name), OFF, qos=1, retain=True)
                for label in {label for rule in camera.rules for label in rule.classes}:
                    client.publish(count_topic(self.prefix, camera_name, label), "0", qos=1, retain=True)
            self._first_connect = False
        self._connected.set()
        self.on_link("up", f"connected to {self._broker()}")

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self._connected.clear()
        if not self._closing:  # our own disconnect at a stop is no outage
            self.on_link("down", f"broker {self._broker()} lost: {reason_code}")

    def _broker(self) -> str:
        parts = urlsplit(self.config.url)
        return f"{parts.hostname}:{parts.port}"

    def deliver(self, alert: Alert, give_up: threading.Event) -> bool:
        for topic, payload, retain in self._messages(alert):
            self._publish(topic, payload, retain, give_up)
        return True

    def _messages(self, alert: Alert) -> list[tuple[str, bytes | str, bool]]:
        event, body = alert.event, json.dumps(alert.payload, separators=(",", ":"))
        camera, event_id, ended = event.camera, event.event_id, event.state == "end"
        if event.type == CAMERA_OFFLINE:  # the camera's availability, not a rule's state
            return [
                (f"{self.prefix}/events", body, False),
                (camera_available_topic(self.prefix, camera), "online" if ended else "offline", True),
            ]
        rule = event.source.rule or event.type
        label = event.label or "object"
        for opened in (self._open[(camera, rule)], self._open_labels[(camera, label)]):
            if ended:
                opened.discard(event_id)
            else:
                opened.add(event_id)
        out: list[tuple[str, bytes | str, bool]] = [
            (f"{self.prefix}/events", body, False),
            (state_topic(self.prefix, camera, rule), ON if self._open[(camera, rule)] else OFF, True),
            (count_topic(self.prefix, camera, label), str(len(self._open_labels[(camera, label)])), True),
        ]
        if self.config.snapshots and event.state == "new" and (picture := self._snapshot(event.snapshot)) is not None:
            out.append((snapshot_topic(self.prefix, camera), picture, True))
        for topic, _, _ in out:  # all checked before the first goes out: an alert is sent whole or not at all
            if any(char in topic for char in "+#\x00") or "//" in topic:
                raise ValueError(f"not a topic MQTT can publish to: {topic[:120]!r}")
        return out

    def _snapshot(self, snapshot: str) -> bytes | None:
        try:
            path = resolve_inside(self.storage_dir, snapshot or "")
            return path.read_bytes() if path.is_file() else None
        except (UnsafePath, OSError):
            return None  # on another host the storage folder may not be there: the event still goes out

    def _publish(self, topic: str, payload: bytes | str, retain: bool, give_up: threading.Event) -> None:
        """Returns once the broker has the message (its PUBACK for QoS 1). Waits out an outage: a message handed to
        paho is never handed again (paho resends it after a reconnect), so waiting cannot duplicate it."""
        while True:
            while not self._connected.wait(POLL_S):
                if give_up.is_set():
                    raise Abandoned()
            info = self.client.publish(topic, payload, qos=self.config.qos, retain=retain)
            if info.rc != mqtt.MQTT_ERR_NO_CONN:
                break
            # the link dropped between the check and the hand-over: paho keeps a QoS 1/2 message and sends it on
            # reconnect (it is pending, as MQTT_ERR_AGAIN says), while a QoS 0 one is gone and is published again
            if self.config.qos > 0:
                info.rc = mqtt.MQTT_ERR_AGAIN
                break
        while not info.is_published():
            if give_up.is_set():
                raise Abandoned()
            try:
                info.wait_for_publish(0.5)
            except (RuntimeError, ValueError):  # handed over while the link dropped: paho sends it on reconnect
                time.sleep(POLL_S)

    def close(self) -> None:
        self._closing = True
        if self._connected.is_set():
            self.client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
