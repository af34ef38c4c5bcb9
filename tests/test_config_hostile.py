"""Hostile or sloppy config files get one clear error with its line, fast and in bounded memory: never a
traceback, a hang or a silently dropped camera."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from streamer.config import ConfigError, load_config, parse_config_text
from streamer.detect.model_checks import MODEL_CHECKS


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
    text = "shared: &d {fps: 2}\ncameras:\n  a: {url: a.mp4, detect: *d}\n  b: {url: b.mp4, detect: *d}\n"
    with pytest.raises(ConfigError) as caught:  # "shared" is not a setting: the error is about that alone
        parse_config_text(text, "t.yaml", Path("."), {})
    assert [i.path for i in caught.value.issues] == ["shared"]


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


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        (
            "record: {pre_roll_s: true}",
            "t.yaml:4: cameras.a.record.pre_roll_s: expected a number, not the boolean true",
        ),
        ("detect: {fps: false}", "t.yaml:4: cameras.a.detect.fps: expected a number, not the boolean false"),
        ("enabled: 0", "t.yaml:4: cameras.a.enabled: expected true or false, not 0"),
        ('loop: "no"', "t.yaml:4: cameras.a.loop: expected true or false, not 'no'"),
    ],
)
def test_booleans_and_numbers_are_not_taken_for_each_other(fragment: str, expected: str) -> None:
    assert errors(f"cameras:\n  a:\n    url: a.mp4\n    {fragment}\n") == [expected]


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ("[1.0e+308, 1]", "Input should be less than or equal to 16384"),
        ("[1e308, 1]", "Input should be a valid number"),  # YAML 1.1 reads this one as a string
        ("[true, 1]", "Input should be a valid number"),
        ("[-1, 1]", "Input should be greater than or equal to 0"),
    ],
)
def test_polygon_points_are_finite_pixels_inside_any_frame(point: str, message: str) -> None:
    text = f"cameras:\n  a:\n    url: a.mp4\n    zones: {{z: {{polygon: [{point}, [2, 2], [3, 1]]}}}}\n"
    assert errors(text) == [f"t.yaml:4: cameras.a.zones.z.polygon[0][0]: {message}"]


@pytest.mark.parametrize(
    ("section", "where", "fragment"),
    [
        ("redis:\n  url: redis://127.0.0.1:notaport/0\n", "t.yaml:2: redis.url", "not a valid URL"),
        ("redis:\n  url: redis://:6379/0\n", "t.yaml:2: redis.url", "no host in the URL"),
        ("cameras:\n  a: {url: 'rtsp://cam:99999/live'}\n", "t.yaml:2: cameras.a.url", "not a valid URL"),
        ("cameras:\n  a: {url: 'rtsp:///live'}\n", "t.yaml:2: cameras.a.url", "no host in the URL"),
        (
            "cameras:\n  a: {url: a.mp4, detect: {device: 'cuda:99'}}\n",
            "t.yaml:2: cameras.a.detect.device",
            "should match",
        ),
    ],
)
def test_urls_ports_and_devices_are_checked_for_form(section: str, where: str, fragment: str) -> None:
    text = section if section.startswith("cameras") else section + "cameras: {a: {url: a.mp4}}\n"
    (line,) = errors(text)
    assert line.startswith(where + ": ") and fragment in line


def test_a_gpu_this_machine_lacks_is_named_with_the_ones_it_has(tmp_path: Path) -> None:
    from streamer.detect.model_checks import devices

    gpus = tmp_path / "gpus"
    (gpus / "0000:01:00.0").mkdir(parents=True)
    config = parse_config_text("cameras: {a: {url: a.mp4, detect: {device: 'cuda:1'}}}\n", "t.yaml", Path("."), {})
    ((loc, message),) = devices(config, gpus)
    assert (
        loc == ("cameras", "a", "detect", "device") and message == "'cuda:1': this machine has 1 CUDA device(s), 0 to 0"
    )
    assert devices(config, tmp_path / "no-driver") == []  # the engine falls back to the CPU


def test_class_names_the_model_does_not_know_are_named_with_the_models_list(tmp_path: Path, models_dir: Path) -> None:
    """Once the engine has loaded a weights file here, the loader knows its classes and checks them up front."""
    from streamer.detect.class_names import remember_names

    weights = tmp_path / "models" / "yolo26n.pt"
    weights.parent.mkdir()
    weights.write_bytes((models_dir / "yolo26n.pt").read_bytes())
    text = (
        f"models_dir: {weights.parent}\ncameras:\n  a:\n    url: a.mp4\n"
        "    detect:\n      model: {classes: [person, persn]}\n"
    )
    parse_config_text(text, "t.yaml", tmp_path, {}, MODEL_CHECKS)  # not known yet: the engine checks at load
    remember_names(weights, weights.parent / "cache", {0: "person", 1: "bicycle", 2: "car"})
    assert errors_in(text, tmp_path) == [
        "t.yaml:6: cameras.a.detect.model.classes: ['persn'] not among the classes of yolo26n.pt: person, bicycle, car"
    ]


def errors_in(text: str, base: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "t.yaml", base, {}, MODEL_CHECKS)
    return [issue.render("t.yaml") for issue in caught.value.issues]


def test_zones_and_lines_past_the_actual_frame_are_named() -> None:
    from streamer.config.cameras import CameraConfig

    camera = CameraConfig.model_validate(
        {
            "url": "a.mp4",
            "zones": {
                "door": {"polygon": [[0, 0], [1900, 0], [1900, 1000]]},
                "desk": {"polygon": [[0, 0], [600, 0], [600, 300]]},
            },
            "rules": [{"type": "line_crossing", "start": [10, 10], "end": [10, 1070]}],
        }
    )
    assert camera.points_outside(1920, 1080) == []
    assert camera.points_outside(640, 360) == ["zones.door", "rules[0]"]


def test_an_open_api_address_is_refused_unless_the_config_says_so() -> None:
    text = "api:\n  host: 0.0.0.0\ncameras: {a: {url: a.mp4}}\n"
    (line,) = errors(text)
    assert line.startswith("t.yaml:2: api.host: 0.0.0.0 is not a loopback address") and "api.auth: none" in line
    parse_config_text(text.replace("0.0.0.0", "0.0.0.0\n  auth: none"), "t.yaml", Path("."), {})
    parse_config_text(text.replace("0.0.0.0", "'::1'"), "t.yaml", Path("."), {})


def test_a_control_character_is_refused_with_its_line() -> None:
    assert errors("cameras:\n  a: {url: a.mp4}\n  b: {url: b\x07.mp4}\n") == [
        "t.yaml:3: invalid YAML: the control character '\\x07' is not allowed in a YAML file"
    ]
