"""`defaults:`: what every camera inherits, what a camera overrides, and where an inherited mistake is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.config.loader import ConfigError, load_config, parse_config_text

REPO = Path(__file__).resolve().parents[1]

SITE = """\
defaults:
  detect:
    fps: 4
    model: {weights: yolo26n.pt, classes: [person], confidence: 0.4}
  zones:
    whole: {polygon: [[0, 0], [640, 0], [640, 480], [0, 480]]}
  rules:
    - {type: zone_intrusion, zone: whole, classes: [person]}
  record: {mode: events, retain_days: 3}
cameras:
  plain: {url: a.mp4}
  tuned:
    url: b.mp4
    detect:
      model: {confidence: 0.6}           # only this key of the model: the weights and classes stay inherited
    zones:
      door: {polygon: [[0, 0], [10, 0], [10, 10]]}
    rules:                               # a list is taken whole: the default rule is replaced, not added to
      - {type: dwell, zone: door, min_dwell_s: 30}
"""


def parse(text: str):
    return parse_config_text(text, "t.yaml", Path("."), {})


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return [issue.render("t.yaml") for issue in caught.value.issues]


def test_every_camera_inherits_the_defaults_and_overrides_key_by_key() -> None:
    config = parse(SITE)
    plain, tuned = config.cameras["plain"], config.cameras["tuned"]
    assert (plain.detect.fps, plain.detect.model.confidence, plain.detect.model.classes) == (4, 0.4, ["person"])
    assert [r.type for r in plain.rules] == ["zone_intrusion"] and set(plain.zones) == {"whole"}
    assert plain.record.mode.value == "events" and plain.record.retain_days == 3
    assert (tuned.detect.fps, tuned.detect.model.confidence, tuned.detect.model.classes) == (4, 0.6, ["person"])
    assert set(tuned.zones) == {"whole", "door"}  # mappings merge: the camera's zone is added
    assert [r.type for r in tuned.rules] == ["dwell"]  # lists replace
    assert tuned.record.retain_days == 3


def test_a_bad_default_is_reported_once_at_its_own_line_naming_the_cameras() -> None:
    text = SITE.replace("    fps: 4", "    fps: 500")
    assert errors(text) == [
        (
            "t.yaml:3: defaults.detect.fps: Input should be less than or equal to 120 "
            "(inherited by cameras 'plain', 'tuned')"
        )
    ]


def test_a_camera_own_value_is_reported_at_the_camera() -> None:
    text = SITE.replace("model: {confidence: 0.6}", "model: {confidence: 1.6}")
    assert errors(text) == ["t.yaml:15: cameras.tuned.detect.model.confidence: Input should be less than or equal to 1"]


def test_an_unknown_default_key_and_a_per_camera_key_are_refused() -> None:
    assert errors(SITE.replace("  detect:\n    fps: 4", "  detect:\n    fsp: 4")) == [
        (
            "t.yaml:3: defaults.detect.fsp: unknown key (not allowed here; check the spelling) "
            "(inherited by cameras 'plain', 'tuned')"
        )
    ]
    assert errors("defaults: {url: x.mp4}\ncameras:\n  a: {url: a.mp4}\n") == [
        "t.yaml:1: defaults.url: belongs to each camera; it cannot have a default"
    ]
    assert errors("defaults: [1]\ncameras:\n  a: {url: a.mp4}\n") == [
        "t.yaml:1: defaults: must be a mapping of camera settings (detect, record, tracker, rules…)"
    ]


def test_a_rule_inherited_without_its_zone_names_the_camera() -> None:
    text = SITE.replace("    whole: {polygon", "    hall: {polygon")
    (line,) = errors(text)
    assert "zone 'whole'" in line and "plain" in line


def test_the_shipped_cameras_file_uses_defaults() -> None:
    text = (REPO / "configs" / "cameras.yaml").read_text()
    assert "\ndefaults:" in text
    config = load_config(REPO / "configs" / "cameras.yaml", environ={"CAMERA_PASSWORD": "x"})
    assert {c.detect.fps for c in config.cameras.values()} == {5}
