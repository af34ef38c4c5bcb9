"""A real S3-compatible server on 127.0.0.1: moto's standalone server (PyPI `moto[server]`), reached only through
boto3, the client that talks to AWS S3 and MinIO. It can be paused (SIGSTOP: requests hang and time out, as
across a cut link) and resumed with everything it held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from testkit.rtsp import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "streamer-test",
    "AWS_SECRET_ACCESS_KEY": "streamer-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3Server:
    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> "S3Server":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                httpx.get(self.endpoint, timeout=1)
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def keys(self, bucket: str) -> dict[str, int]:
        """Every object of the bucket, with its size."""
        found: dict[str, int] = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
        return found

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.terminate()
            self.process.wait(10)
