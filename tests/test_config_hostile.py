"""Hostile or sloppy config files get one clear error with its line, fast and in bounded memory: never a
traceback, a hang or a silently dropped camera."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from streamer.config import ConfigError, load_config, parse_config_text


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "t.yaml", Path("."), {})
    return [issue.render("t.yaml") for issue in caught.value.issues]


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\ncameras: {x: {url: x.mp4}}\n"


def test_a_duplicated_camera_is_an_error_naming_both_lines() -> None:
    text = "cameras:\n  lobby: {url: a.mp4}\n  yard: {url: b.mp4}\n  lobby: {url: c.mp4}\n"
    assert errors(text) == ["t.yaml:4: cameras.lobby: duplicate key 'lobby' (first on line 2); remove one"]


def test_an_alias_bomb_is_refused_at_once_in_little_memory() -> None:
    tracemalloc.start()
    started = time.monotonic()
    (line,) = errors(alias_bomb())
    elapsed, (_, peak) = time.monotonic() - started, tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "once aliases are expanded" in line and line.startswith("t.yaml:")
    assert elapsed < 2 and peak < 50 * 2**20


def test_a_small_alias_still_works() -> None:
    text = "defaults: &d {fps: 2}\ncameras:\n  a: {url: a.mp4, detect: *d}\n  b: {url: b.mp4, detect: *d}\n"
    with pytest.raises(ConfigError) as caught:  # 'defaults' is not a setting: the error is about that alone
        parse_config_text(text, "t.yaml", Path("."), {})
    assert [i.path for i in caught.value.issues] == ["defaults"]


@pytest.mark.parametrize("depth", [65, 2000, 100_000])
def test_deep_nesting_is_refused_quickly(depth: int) -> None:
    started = time.monotonic()
    (line,) = errors("cameras: " + "[" * depth + "]" * depth + "\n")
    assert line == "t.yaml:1: nested deeper than 64 levels" and time.monotonic() - started < 2


def test_a_nul_character_is_refused_with_its_line() -> None:
    assert errors('cameras:\n  a: {url: "clip\\0.mp4"}\n') == ["t.yaml:2: a NUL character in a value"]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_numbers_must_be_finite(value: str) -> None:
    text = f"cameras:\n  a:\n    url: a.mp4\n    zones: {{z: {{polygon: [[{value}, 1], [2, 2], [3, 1]]}}}}\n"
    assert errors(text) == ["t.yaml:4: cameras.a.zones.z.polygon[0][0]: Input should be a finite number"]


def test_a_huge_file_is_refused_before_it_is_parsed() -> None:
    assert errors("# " + "x" * (2 << 20) + "\ncameras: {}\n") == ["t.yaml: the file is larger than 1024 KiB"]


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("cameras:\n  caf\xe9: {url: a.mp4}\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.issues
    assert "cannot read the config" in issue.message and "utf-8" in issue.message
