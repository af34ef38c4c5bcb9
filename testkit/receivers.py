"""Real receivers on 127.0.0.1 for the integration tests: Debian's mosquitto broker (killed and restarted on the same
port), an HTTP server that records the webhook requests it gets (or fails them on purpose), an SMTP server
(aiosmtpd) that keeps the e-mails, and an MQTT subscriber that records what arrives."""

from __future__ import annotations

import atexit
import email
import getpass
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from testkit.rtsp import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def needs_mosquitto() -> None:
    if not Path(MOSQUITTO).exists():
        pytest.skip("Debian's mosquitto is not installed (scripts/install_system_deps.sh installs it)")


class Broker:
    """mosquitto on 127.0.0.1 with a user and password, no persistence (a killed broker forgets everything)."""

    def __init__(self, folder: Path, user: str = "streamer", password: str = "broker-secret-1", tls: bool = False):
        self.folder = folder
        self.port = free_port()
        self.user, self.password = user, password
        self.process: subprocess.Popen | None = None
        self.ca_file: Path | None = None
        folder.mkdir(parents=True, exist_ok=True)
        passwords = folder / "passwords"
        subprocess.run(
            ["mosquitto_passwd", "-c", "-b", str(passwords), user, password], check=True, capture_output=True
        )
        passwords.chmod(0o600)
        tls_lines = ""
        if tls:
            self.ca_file = folder / "ca.crt"
            make_certificates(folder)
            tls_lines = f"cafile {self.ca_file}\ncertfile {folder / 'server.crt'}\nkeyfile {folder / 'server.key'}\n"
        # run as whoever runs the tests: as root, mosquitto would switch to its own user, who cannot read
        # pytest's folders
        (folder / "mosquitto.conf").write_text(
            f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\n{tls_lines}allow_anonymous false\n"
            f"password_file {passwords}\npersistence false\nlog_dest stderr\n"
        )

    def start(self, timeout: float = 10.0) -> "Broker":
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.folder / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        atexit.register(self.kill)  # a test that fails before its own kill() must not leave the broker running
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)
            self.process = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.ca_file else 'mqtt'}://127.0.0.1:{self.port}"


def make_certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 it signed (openssl, a day's validity)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=streamer test CA",
    )
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"
    )
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    )


class Subscriber:
    """Records every message on the topics it subscribed to (`#` by default), reconnecting after a broker restart."""

    def __init__(self, broker: Broker, topic: str = "#"):
        self.messages: list[tuple[str, bytes, bool, float]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
        self.client.username_pw_set(broker.user, broker.password)
        if broker.ca_file is not None:
            self.client.tls_set(ca_certs=str(broker.ca_file))
        self.client.reconnect_delay_set(0.2, 1)
        self.topic = topic

        def on_connect(client, _userdata, _flags, _reason, _properties):
            client.subscribe(self.topic, qos=1)

        def on_subscribe(*_args):
            self.ready.set()

        def on_message(_client, _userdata, message):
            self.messages.append((message.topic, message.payload, bool(message.retain), time.time()))

        self.client.on_connect, self.client.on_subscribe, self.client.on_message = on_connect, on_subscribe, on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.ready.wait(10), "the test subscriber could not subscribe"

    def on(self, topic: str) -> list[bytes]:
        return [payload for name, payload, _, _ in list(self.messages) if name == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class WebhookReceiver:
    """An HTTP server on a fixed port that records each POST; `fail_with` answers every request with that status."""

    port: int = field(default_factory=free_port)
    fail_with: int | None = None
    requests: list[Received] = field(default_factory=list)
    attempts: int = 0
    server: ThreadingHTTPServer | None = None

    def start(self) -> "WebhookReceiver":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.attempts += 1
                if owner.fail_with is not None:
                    self.send_response(owner.fail_with)
                    self.end_headers()
                    self.wfile.write(b"refused on purpose")
                    return
                owner.requests.append(Received(body, dict(self.headers.items()), time.time()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping every message it is sent."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        owner = self

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's name
                owner.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.controller.stop()
