"""A copy of the recorded site (its recordings and index) with a config of its own: its own users, Redis and `api:`
settings, so a test can change who may log in without touching the shared recordings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

STREAMER = [sys.executable, "-m", "streamer"]


def site_copy(recorded, folder: Path, redis_url: str, **sections) -> Path:
    """`folder/site.yaml` over a copy of the recordings; `sections` replace the config's top-level ones."""
    shutil.copytree(recorded.storage, folder / "data", ignore=shutil.ignore_patterns("query", "users.sqlite3"))
    tree = yaml.safe_load(recorded.config.read_text())
    tree.update(storage_dir=str(folder / "data"), redis={"url": redis_url}, **sections)
    config = folder / "site.yaml"
    config.write_text(yaml.safe_dump(tree))
    return config


def users(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`streamer users …` on this config, as an admin types it."""
    return subprocess.run(
        [*STREAMER, "users", *args, "-c", str(config)], input=stdin, capture_output=True, text=True, timeout=60
    )


def add_user(config: Path, name: str, password: str, *extra: str) -> None:
    done = users(config, "add", name, *extra, "--password-stdin", stdin=password)
    assert done.returncode == 0, done.stderr


def token(config: Path, name: str, *extra: str) -> str:
    made = users(config, "token", name, *extra)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()
