"""A real PostgreSQL server (Debian's postgresql package) on 127.0.0.1 in a folder of its own, which tests can stop
and start again on the same port and data. It runs as the `postgres` user when the tests run as root (the server
refuses root), as the tests' own user otherwise. Trust authentication on loopback: a test server, nothing else."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from testkit.rtsp import free_port


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError(
                "PostgreSQL is not installed (Debian: apt-get install postgresql; scripts/install_system_deps.sh)"
            )
        # not under pytest's tmp folder: the server's own user must be able to reach it
        self.folder = Path(tempfile.mkdtemp(prefix="streamer-pg-"))
        self.data = self.folder / "data"
        self._as_root = os.geteuid() == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://streamer@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=60)

    def start(self) -> "PostgresServer":
        if not self.data.exists():
            if self._as_root:
                shutil.chown(self.folder, "postgres", "postgres")
            self._run("initdb", "-D", str(self.data), "-U", "streamer", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c max_connections=200"
        done = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"postgres did not start: {done.stdout}{done.stderr}{self.log()}")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
