"""Configuration: every bad input gives a clear error naming the YAML field (and line), exit 2 from the CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamer.cli import app
from streamer.config import ConfigError, SourceKind, load_config, parse_config_text
from streamer.detect.model_checks import MODEL_CHECKS

REPO = Path(__file__).resolve().parent.parent
GOOD = """
models_dir: {models}
cameras:
  lobby:
    url: rtsp://admin:${CAM_PASSWORD}@127.0.0.1:8554/lobby
    detect:
      fps: 5
      model: {weights: yolo26n.pt, classes: [person]}
    zones:
      door: {polygon: [[0, 0], [100, 0], [100, 100]]}
    rules:
      - {type: zone_intrusion, zone: door}
"""


def parse(text: str, models_dir: Path, environ: dict[str, str] | None = None):
    body = textwrap.dedent(text).replace("{models}", str(models_dir))
    return parse_config_text(
        body, "test.yaml", models_dir.parent, {"CAM_PASSWORD": "s3cret"} if environ is None else environ, MODEL_CHECKS
    )  # as `streamer run` loads it


def errors_of(text: str, models_dir: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text, models_dir, environ)
    return [issue.render("test.yaml") for issue in caught.value.issues]


def test_valid_config_substitutes_env_and_resolves_models(models_dir: Path) -> None:
    config = parse(GOOD, models_dir)
    lobby = config.cameras["lobby"]
    assert lobby.url == "rtsp://admin:s3cret@127.0.0.1:8554/lobby"
    assert lobby.safe_url == "rtsp://admin:***@127.0.0.1:8554/lobby"
    assert lobby.kind is SourceKind.LIVE
    assert lobby.detect.fps == 5 and lobby.rules[0].zone == "door"


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("fps: 5", "fps: -5", "test.yaml:7: cameras.lobby.detect.fps: Input should be greater than 0"),
        ("fps: 5", "fps: 5\n      fsp: 3", "test.yaml:8: cameras.lobby.detect.fsp: unknown key"),
        ("zone: door", "zone: gate", "rules[0] uses zone 'gate', which is not in zones (door)"),
        ("type: zone_intrusion", "type: teleport", "cameras.lobby.rules[0]"),
        ("[100, 100]]", "]", "cameras.lobby.zones.door.polygon: List should have at least 3 items"),
        ("  lobby:", "  Lobby Cam:", "test.yaml:4: cameras.Lobby Cam: invalid name: String should match pattern"),
        ("fps: 5", "fps: 5\n      device: gpu7", "cameras.lobby.detect.device: String should match pattern"),
        (
            "weights: yolo26n.pt",
            "weights: nowhere/missing.pt",
            "cameras.lobby.detect.model.weights: model weights 'nowhere/missing.pt' not found",
        ),
        ("    detect:", "    loop: true\n    detect:", "cameras.lobby: 'loop' applies to file sources only"),
        (
            "zone: door}",
            "zone: door, min_inside_s: -1}",
            "test.yaml:12: cameras.lobby.rules[0].min_inside_s: Input should be greater than or equal to 0",
        ),
        ("zone: door}", "zone: door, cooldown: 5}", "cameras.lobby.rules[0].cooldown: unknown key"),
        (
            "{type: zone_intrusion, zone: door}",
            "{type: fall, fall_model: falls}",
            "rules[0].fall_model 'falls' is not in detect.extra_models (none defined)",
        ),
        (
            "{type: zone_intrusion, zone: door}",
            "{type: dwell, zone: door}\n      - {type: dwell, zone: door}",
            "rules[1]: a second rule named 'dwell'",
        ),
        (
            "{type: zone_intrusion, zone: door}",
            "{type: line_crossing, start: [0, 0], end: [0, 0]}",
            "line start and end are the same point",
        ),
        (
            "{type: zone_intrusion, zone: door}",
            "{type: count, zone: door}",
            "cameras.lobby.rules[0].max_count: Field required",
        ),
        (
            "models_dir: {models}",
            "models_dir: {models}\nredis: {url: 'http://x'}",
            "test.yaml:3: redis.url: must start with one of redis://",
        ),
        (
            "models_dir: {models}",
            "models_dir: {models}\nvlm: {backend: scripted, scripted: {responses: a.yaml}, sampling: {fps: 0.75}}",
            "vlm.sampling.fps: 2 / fps must be a whole number (2 / 0.75 = 2.66667)",
        ),
        (
            "models_dir: {models}",
            "models_dir: {models}\nvlm: {backend: openai}",
            "vlm: backend 'openai' needs an 'openai:' section",
        ),
        (
            "models_dir: {models}",
            "models_dir: {models}\nvlm: {backend: qwen}",
            "vlm.backend: Input should be 'transformers', 'openai' or 'scripted'",
        ),
        (
            "models_dir: {models}",
            "models_dir: {models}\nvlm: {backend: transformers, sampling: {max_pixels: 100000}}",
            "vlm.sampling.max_pixels: 100000 is not a multiple of 28×28",
        ),
        (
            "    detect:",
            "    watch: [{name: fence, prompt: a person climbing the fence}]\n    detect:",
            "cameras.lobby.watch needs a 'vlm:' section",
        ),
    ],
)
def test_bad_field_is_named_with_its_path(models_dir: Path, replace: str, by: str, expected: str) -> None:
    rendered = errors_of(GOOD.replace(replace, by), models_dir)
    assert any(expected in line for line in rendered), rendered


def test_vlm_clip_rate_cannot_exceed_the_detection_rate(models_dir: Path) -> None:
    text = GOOD.replace("fps: 5", "fps: 1").replace(
        "models_dir: {models}", "models_dir: {models}\nvlm: {backend: transformers}"
    )
    rendered = errors_of(text, models_dir)
    assert any("cameras.lobby.detect.fps (1) is below vlm.sampling.fps (2)" in line for line in rendered), rendered
    config = parse(
        GOOD.replace("models_dir: {models}", "models_dir: {models}\nvlm: {backend: transformers}"), models_dir
    )
    assert config.vlm.sampling.fps == 2 and config.vlm.verifies("fall") and config.vlm.queue.max_deliveries == 3


def test_every_error_is_reported_not_just_the_first(models_dir: Path) -> None:
    text = GOOD.replace("fps: 5", "fps: 0\n      half: maybe")
    rendered = errors_of(text, models_dir)
    assert any("detect.fps" in line for line in rendered) and any("detect.half" in line for line in rendered)


def test_missing_env_var_names_the_field_and_the_variable(models_dir: Path) -> None:
    (line,) = errors_of(GOOD, models_dir, environ={})
    assert line == "test.yaml:5: cameras.lobby.url: environment variable ${CAM_PASSWORD} is not set"


def test_malformed_yaml_gives_the_line(models_dir: Path) -> None:
    (line,) = errors_of("cameras:\n  lobby:\n    url: [unclosed\n    detect: {fps: 5}\n", models_dir)
    assert line.startswith("test.yaml:") and "invalid YAML" in line


def test_password_never_appears_in_errors(models_dir: Path) -> None:
    text = GOOD.replace("fps: 5", "fps: -1")
    rendered = "\n".join(errors_of(text, models_dir))
    assert "s3cret" not in rendered


def test_relative_file_paths_are_relative_to_the_config(tmp_path: Path, models_dir: Path) -> None:
    config_file = tmp_path / "conf" / "cams.yaml"
    config_file.parent.mkdir()
    config_file.write_text(f"models_dir: {models_dir}\ncameras:\n  yard:\n    url: ../videos/yard.mp4\n")
    config = load_config(config_file)
    assert config.cameras["yard"].url == str(tmp_path / "videos" / "yard.mp4")
    assert config.storage_dir == tmp_path / "conf" / "data"


def test_example_config_is_valid() -> None:
    result = CliRunner().invoke(app, ["validate-config", "-c", str(REPO / "configs" / "example.yaml")])
    assert result.exit_code == 0, result.output
    assert "street: file" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("cameras:\n  a:\n    url: x.mp4\n    detect: {fps: -1}\n", "cameras.a.detect.fps"),
        ("cameras:\n  a:\n    url: x.mp4\n    colour: red\n", "cameras.a.colour: unknown key"),
        ("cameras: [\n", "invalid YAML"),
        ("cameras:\n  a:\n    url: rtsp://u:${NOPE_NOT_SET}@h/s\n", "environment variable ${NOPE_NOT_SET} is not set"),
    ],
)
def test_validate_config_cli_exits_2_and_prints_the_field(tmp_path: Path, content: str, expected: str) -> None:
    config_file = tmp_path / "bad.yaml"
    config_file.write_text(content)
    result = CliRunner().invoke(app, ["validate-config", "-c", str(config_file)])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda folder: folder / "missing.mp4", "file not found"),
        (lambda folder: (folder / "notes.mp4").write_text("not a video") and folder / "notes.mp4", "not a video"),
        (lambda folder: (folder / "clips.mp4").mkdir() or folder / "clips.mp4", "is a folder, not a video file"),
    ],
)
def test_validate_config_opens_each_file_source(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path, make, expected
) -> None:
    """A file that `run` could not play is an error of validate-config, naming the camera's url and its line; the
    good camera beside it is not reported, and a disabled camera's file is not opened."""
    bad = make(tmp_path)
    config_file = tmp_path / "cams.yaml"
    config_file.write_text(
        f"models_dir: {models_dir}\ncameras:\n  good:\n    url: {bikes_mp4}\n"
        f"  bad:\n    url: {bad}\n  spare:\n    url: {tmp_path / 'nowhere.mp4'}\n    enabled: false\n"
    )
    result = CliRunner().invoke(app, ["validate-config", "-c", str(config_file)])
    assert result.exit_code == 2, result.output
    assert "cams.yaml:6: cameras.bad.url: " in result.output and expected in result.output, result.output
    assert "cameras.good" not in result.output and "cameras.spare" not in result.output
    assert load_config(config_file).cameras["bad"].url == str(bad)  # the other commands do not open files
