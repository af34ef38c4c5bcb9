"""`streamer run --log-format json` in a subprocess of its own session, its log lines parsed as they arrive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

STREAMER = [sys.executable, "-m", "streamer"]


class Service:
    """`streamer run --log-format json` in a subprocess, its log lines parsed as they arrive."""

    def __init__(self, config: Path, *extra: str, env: dict[str, str] | None = None):
        self.process = subprocess.Popen(
            [*STREAMER, "run", "--config", str(config), "--log-format", "json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def records(self) -> list[dict]:
        parsed = []
        for line in list(self.lines):
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return parsed

    def find(self, **match: object) -> list[dict]:
        return [r for r in self.records if all(r.get(k) == v for k, v in match.items())]

    def wait_for(self, timeout: float, count: int = 1, **match: object) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(**match)
            if len(found) >= count:
                return found[-1]
            if self.process.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"no log record {match} within {timeout}s:\n" + "\n".join(self.lines[-40:]))

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self.reader.join(5)
        return code

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM, as a user stops it; the whole group is killed if it is still running after `grace_s`."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def write_config(folder: Path, models_dir: Path, cameras: str) -> Path:
    config = folder / "cameras.yaml"
    config.write_text(f"models_dir: {models_dir}\nlogging: {{stats_interval_s: 1}}\ncameras:\n{cameras}")
    return config
