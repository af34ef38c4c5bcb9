"""One grammar for every command (issue 16): the same option names for the same things, cameras checked against
the config everywhere, enum options that refuse unknown values, options that make no sense together refused
with a reason, plain metavars, --version, and the API address from the flags or STREAMER_API_HOST/PORT."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from typer.testing import CliRunner

from streamer.cli import app, command
from streamer.vlm.queue import STATS_KEYS
from testkit.rtsp import free_port
from testkit.waiting import wait_until

STREAMER = [sys.executable, "-m", "streamer"]
CLI = command()


def invoke(*args: str):
    """The click command exactly as `streamer` runs it (plain metavars applied): typer's runner builds the command
    from a Typer app itself, so it is handed the one `streamer.cli.command()` built."""
    with mock.patch("typer.testing._get_command", lambda _app: CLI):
        return CliRunner().invoke(app, list(args))


def commands(group=CLI, path=()):
    for name, sub in group.commands.items():
        if hasattr(sub, "commands"):
            yield from commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def two_cameras(folder: Path, models_dir: Path, video: Path) -> Path:
    config = folder / "two.yaml"
    config.write_text(f"""
storage_dir: {folder / "data"}
models_dir: {models_dir}
cameras:
  street: {{url: {video}, detect: {{model: {{weights: yolo26n.pt}}}}}}
  yard: {{url: {video}, detect: {{model: {{weights: yolo26n.pt}}}}}}
vlm: {{backend: scripted, scripted: {{responses: {folder / "answers.yaml"}}}}}
""")
    (folder / "answers.yaml").write_text('"*":\n  - \'{{"verdict": "rejected", "events": []}}\'\n')
    return config


def test_every_command_names_the_same_things_the_same_way() -> None:
    seen = 0
    for path, cmd in commands():
        options = {param.name: param for param in cmd.params if param.param_type_name == "option"}
        if "config" in options:
            assert set(options["config"].opts) == {"--config", "-c"}, path
            seen += 1
        if "since" in options:
            assert {"--since", "--start"} <= set(options["since"].opts), path
            assert {"--until", "--end"} <= set(options["until"].opts), path
        if "camera" in options:
            assert options["camera"].opts == ["--camera"] and options["camera"].multiple, path
        for name in ("api_host", "api_port", "api_auth"):
            if name in options:
                assert options[name].opts == [f"--{name.replace('_', '-')}"], path
        assert not any(param.param_type_name == "argument" and param.name == "config" for param in cmd.params), path
    assert seen >= 12


def test_help_shows_plain_metavars_and_the_version() -> None:
    for path, _ in commands():
        text = invoke(*path, "--help").output
        assert "<" not in text.replace("<=", ""), (path, text)  # no <bool>, <str>, <int range>…
    assert invoke("run", "--help").output.count("--log-format [text|json]") == 1
    version = invoke("--version")
    assert version.exit_code == 0 and version.output.startswith("streamer 0.")


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--log-format", "xml"),
        ("serve", "--log-format", "xml"),
        ("vlm-worker", "--log-format", "xml"),
        ("run", "--api-auth", "open"),
        ("serve", "--api-auth", "yes"),
        ("serve", "--api-port", "70000"),
    ],
)
def test_enum_and_range_options_refuse_unknown_values(args, tmp_path: Path, models_dir: Path, bikes_mp4: Path) -> None:
    result = invoke(*args, "-c", str(two_cameras(tmp_path, models_dir, bikes_mp4)))
    assert result.exit_code == 2 and "Invalid value" in result.output, result.output


@pytest.mark.parametrize(
    "args, reason",
    [
        (("alerts", "tail", "--consumer", "me"), "--consumer needs --group"),
        (("alerts", "tail", "--claim-idle-s", "5"), "--claim-idle-s needs --group"),
        (("alerts", "tail", "--health", "--json"), "--json does not apply to --health"),
        (("alerts", "tail", "--health", "--camera", "street"), "--camera does not apply to --health"),
        (
            (
                "clip",
                "export",
                "--camera",
                "street",
                "--camera",
                "yard",
                "--since",
                "-1m",
                "--until",
                "now",
                "-o",
                "x.mp4",
            ),
            "a clip is of one camera",
        ),
    ],
)
def test_options_that_make_no_sense_together_are_refused_with_a_reason(
    args, reason, tmp_path, models_dir, bikes_mp4
) -> None:
    result = invoke(*args, "-c", str(two_cameras(tmp_path, models_dir, bikes_mp4)))
    assert result.exit_code == 2 and reason in result.output, result.output


@pytest.mark.parametrize(
    "args",
    [
        ("run",),
        ("models", "export"),
        ("recordings", "list"),
        ("alerts", "tail", "--no-follow"),
        ("query", "what happened"),
        ("clip", "export", "--since", "-1m", "--until", "now", "-o", "x.mp4"),
    ],
)
def test_an_unknown_camera_is_named_with_the_cameras_everywhere(args, tmp_path, models_dir, bikes_mp4) -> None:
    result = invoke(*args, "-c", str(two_cameras(tmp_path, models_dir, bikes_mp4)), "--camera", "stret")
    assert result.exit_code == 2, result.output
    assert "'stret'" in result.output and "street, yard" in result.output, result.output


def test_alerts_tail_without_a_config_checks_cameras_against_the_streams_on_redis(tmp_path: Path) -> None:
    from testkit.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    try:
        server.client().xadd("streamer:alerts:street", {"data": "{}"})
        result = invoke("alerts", "tail", "--redis-url", server.url, "--camera", "stret", "--no-follow")
        assert result.exit_code == 2 and "'stret'" in result.output and "cameras with alerts: street" in result.output
        found = invoke(
            "alerts", "tail", "--redis-url", server.url, "--camera", "street", "--no-follow", "--from-start", "--json"
        )
        assert found.exit_code == 0 and found.output.strip() == "{}"
    finally:
        server.stop()


def test_a_repeated_camera_tails_each_cameras_stream_in_time_order(tmp_path: Path) -> None:
    from testkit.redis_server import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    client = server.client()
    try:
        for index, camera in enumerate(["street", "yard", "street", "gate", "yard"]):
            client.xadd(f"streamer:alerts:{camera}", {"data": f'{{"n": {index}, "camera": "{camera}"}}'})
            time.sleep(0.002)
        plain = invoke(
            "alerts",
            "tail",
            "--redis-url",
            server.url,
            "--camera",
            "street",
            "--camera",
            "yard",
            "--from-start",
            "--no-follow",
            "--json",
        )
        assert [line[:7] for line in plain.output.splitlines()] == ['{"n": 0', '{"n": 1', '{"n": 2', '{"n": 4']
        grouped = invoke(
            "alerts",
            "tail",
            "--redis-url",
            server.url,
            "--camera",
            "street",
            "--camera",
            "yard",
            "--group",
            "ops",
            "--from-start",
            "--no-follow",
            "--json",
        )
        assert grouped.output == plain.output
        assert client.xpending("streamer:alerts:street", "ops")["pending"] == 0  # each acknowledged on its stream
        assert client.xpending("streamer:alerts:yard", "ops")["pending"] == 0
    finally:
        server.stop()


def test_vlm_stats_prints_every_documented_key_on_a_fresh_queue(
    tmp_path: Path, models_dir: Path, bikes_mp4: Path
) -> None:
    import json

    result = subprocess.run(
        [*STREAMER, "vlm", "stats", "-c", str(two_cameras(tmp_path, models_dir, bikes_mp4))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == dict.fromkeys(STATS_KEYS, 0)
    documented = (Path(__file__).parents[1] / "docs" / "vlm.md").read_text()
    assert all(f"`{key}`" in documented for key in STATS_KEYS)


def _wait_health(url: str, timeout: float = 40.0) -> dict:
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answered on {url}")


@pytest.mark.parametrize("verb", ["serve", "run"])
def test_the_api_address_comes_from_the_flags_or_the_environment(verb, tmp_path, models_dir, bikes_mp4) -> None:
    """127.0.0.2 is loopback, so no auth is needed, but it is not the default: only a variable honoured puts it
    there."""
    config = two_cameras(tmp_path, models_dir, bikes_mp4)
    port = free_port()
    env = {**__import__("os").environ, "STREAMER_API_HOST": "127.0.0.2", "STREAMER_API_PORT": str(port)}
    extra = ["--camera", "street"] if verb == "run" else []
    process = subprocess.Popen(
        [*STREAMER, verb, "-c", str(config), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    try:
        # the console line is printed just after the server answers: a SIGTERM between the two used to cut it off
        assert wait_until(lambda: any("console: " in line for line in lines), timeout=60), "".join(lines)
        assert _wait_health(f"http://127.0.0.2:{port}")["cameras"] == ["street", "yard"]
    finally:
        process.terminate()
        process.wait(60)
        reader.join(10)
    assert any(f"console: http://127.0.0.2:{port}/" in line for line in lines), "".join(lines)
