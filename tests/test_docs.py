"""The README and docs/ are executed (issue 16): every block marked `run` runs as written, in a folder made the way
`make demo` makes it (the demo's own recipe, read from the Makefile), and its shown output must still match;
`config` blocks must load; `syntax` blocks (a camera, a GPU, Docker, the set-up itself) are parsed. The markers
are described in tests/helpers/docblocks.py. The generated reference pages must match the code."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers.docblocks import MARKED_LANGUAGES, Block, blocks_of, output_matches

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCKS = [block for page in PAGES for block in blocks_of(page, str(page.relative_to(REPO)))]
BLOCK_TIMEOUT_S = 300
README_LIMIT = 12 * 1024


def _by_kind(*kinds: str) -> list[Block]:
    return [block for block in BLOCKS if block.kind in kinds]


def test_every_code_block_is_marked() -> None:
    unmarked = [block.where for block in BLOCKS if block.language in MARKED_LANGUAGES and block.kind is None]
    assert not unmarked, f"mark these blocks run, config or syntax (tests/helpers/docblocks.py): {unmarked}"
    assert len(_by_kind("run")) >= 20


def test_the_readme_is_a_front_page() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) < README_LIMIT, f"README.md is {len(text.encode()):,} bytes; move detail into docs/"
    for link in ("docs/getting-started.md", "docs/cameras.md", "docs/configuration.md", "docs/troubleshooting.md"):
        assert f"({link}" in text


def test_links_between_pages_resolve() -> None:
    import re

    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://", "mailto:")) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} → {target}")
    assert not broken, broken


def test_generated_reference_pages_match_the_code() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_docs.py", "--check"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("block", _by_kind("syntax"), ids=lambda block: block.where)
def test_syntax_only_blocks_parse(block: Block, tmp_path: Path) -> None:
    if block.language in ("bash", "sh"):
        result = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    elif block.language == "python":
        compile(block.text, block.where, "exec")
    elif block.language == "yaml":
        yaml.safe_load(block.text)
    elif block.language == "ini":  # a systemd unit
        import configparser

        configparser.ConfigParser(strict=True, interpolation=None).read_string(block.text)


@pytest.mark.parametrize("block", _by_kind("config"), ids=lambda block: block.where)
def test_config_blocks_load(block: Block, tmp_path: Path) -> None:
    """A block without `cameras:` is a part of a config: it is checked beside a camera on the sample video."""
    from streamer.config.loader import parse_config_text

    tree = yaml.safe_load(block.text)
    text = block.text
    if "cameras" not in tree:
        text += f"cameras:\n  street: {{url: {REPO / 'data/samples/bikes.mp4'}}}\n"
    names = (
        "CAMERA_PASSWORD",
        "LOBBY_PASSWORD",
        "REDIS_PASSWORD",
        "OPENAI_API_KEY",
        "MQTT_PASSWORD",
        "WEBHOOK_SECRET",
        "HOOK_TOKEN",
        "SMTP_PASSWORD",
        "NTFY_TOPIC",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_CHAT_ID",
        "PG_PASSWORD",
    )
    environ = dict.fromkeys(names, "secret-of-the-docs-test")  # long enough for a webhook's secret
    parse_config_text(text, block.where, tmp_path, environ)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory, models_dir: Path, bikes_mp4: Path) -> Path:
    """A folder like the checkout after `make demo`: the configs, the weights and sample, and the demo's own steps
    (the Makefile's recipe) run in it, so the README's commands find what a new user has."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "configs", folder / "configs")
    for name in (".venv", "models", "scripts"):
        (folder / name).symlink_to(REPO / name)
    (folder / "data").mkdir()
    (folder / "data" / "samples").symlink_to(bikes_mp4.parent)
    for step in _demo_recipe():
        result = subprocess.run(step, shell=True, cwd=folder, env=_env(), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{step}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return folder


def _demo_recipe() -> list[str]:
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("demo:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)/", ".venv/bin/"))
    assert recipe, "the Makefile has no demo recipe"
    return recipe


def _env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}", "COLUMNS": "100"}
    env.pop("STREAMER_REDIS_URL", None)
    return env


def _command(block: Block) -> list[str]:
    if block.language == "python":
        return [str(REPO / ".venv" / "bin" / "python"), "-c", block.text]
    return ["bash", "-euo", "pipefail", "-c", block.text]


@pytest.mark.parametrize("block", _by_kind("run"), ids=lambda block: block.where)
def test_run_blocks_run_as_written(block: Block, demo_folder: Path) -> None:
    redis = None
    if block.options.get("with") == "redis":
        redis = subprocess.Popen(
            ["streamer", "redis", "serve", "-c", "configs/example.yaml"],
            cwd=demo_folder,
            env=_env(),
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert "embedded redis" in redis.stdout.readline()
    try:
        until = float(block.options["until"]) if "until" in block.options else None
        output = _run(block, demo_folder, until)
    finally:
        if redis is not None:
            os.killpg(redis.pid, signal.SIGINT)
            redis.wait(20)
    if block.expected is not None:
        missing = output_matches(block.expected.text, output)
        assert missing is None, (
            f"{block.where}: shown output line not printed any more:\n{missing}\n--- printed:\n{output[-4000:]}"
        )


def _run(block: Block, folder: Path, until: float | None) -> str:
    process = subprocess.Popen(
        _command(block),
        cwd=folder,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if until is None:
        try:
            output, _ = process.communicate(timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"{block.where} ran past {BLOCK_TIMEOUT_S} s") from None
        assert process.returncode == 0, (
            f"{block.where} exited {process.returncode}:\n{block.text}\n--- printed:\n{output[-4000:]}"
        )
        return output
    time.sleep(until)
    still_running = process.poll() is None
    # Ctrl-C for the service's commands, which handle it; SIGTERM for a snippet, where Python would print the
    # KeyboardInterrupt's traceback
    os.killpg(process.pid, signal.SIGTERM if block.language == "python" else signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    assert still_running, (
        f"{block.where} stopped by itself within {until} s (exit {process.returncode}):\n{output[-4000:]}"
    )
    assert output.strip(), f"{block.where} printed nothing in {until} s"
    for bad in ("Traceback", " ERROR ", '"level": "error"'):
        assert bad not in output, f"{block.where} printed {bad!r}:\n{output[-4000:]}"
    return output


def test_the_harness_itself_fails_a_wrong_output_and_a_failing_command(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- run -->\n```bash\necho 'clip: /x/y.mp4 (3 packets)'\n```\n\n<!-- output -->\n```text\n"
        "clip: …y.mp4 (… packets)\n```\n\n<!-- run -->\n```bash\nfalse\n```\n\n```python\nprint(1)\n```\n"
    )
    first, failing, unmarked = blocks_of(page, "page.md")
    assert first.expected is not None and output_matches(first.expected.text, "clip: /x/y.mp4 (3 packets)\n") is None
    assert output_matches(first.expected.text, "clip: /x/y.mp4 (3 frames)\n") == "clip: …y.mp4 (… packets)"
    assert output_matches("a\nb\n", "b\na\n") == "b"  # in order
    with pytest.raises(AssertionError, match="exited 1"):
        _run(failing, tmp_path, None)
    assert unmarked.kind is None and unmarked.language == "python"
