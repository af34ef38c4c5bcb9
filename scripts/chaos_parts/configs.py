"""Generated and hostile configs through the real loader: every one either loads or is refused with a
ConfigError whose every issue names a field or a line; none raises anything else, takes over 2 s or grows the
process by more than 200 MB.

Generation (Hypothesis): the example config as a tree, then a mutation at a random path (a value of another
type, a huge or odd number, a long, NUL-laden or non-ASCII string, a deep list, a removed or added key), dumped
as YAML; and raw text mutations of the dumped file (bytes inserted, lines duplicated, the file cut short).
"""

from __future__ import annotations

import copy
import resource
import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.chaos_parts.common import REPO
from streamer.config import ConfigError, parse_config_text
from streamer.detect.model_checks import MODEL_CHECKS

HANG_S = 2.0

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "1e308",
            "-0",
            "0x10",
            "notaport",
            "cuda:99",
            "\x00",
            "../../etc/passwd",
            "${NOPE}",
            "~",
            "rtsp://:0/x",
            "redis://h:99999/0",
            "é" * 10,
            "true",
            "[",
            "*alias",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def example_tree() -> dict:
    return yaml.safe_load((REPO / "configs" / "example.yaml").read_text())


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _paths(value, (*prefix, index))


def _mutate(tree: dict, path: tuple, action: str, value) -> dict:
    tree = copy.deepcopy(tree)
    if not path:
        return value if action == "replace" and isinstance(value, dict) else tree
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent[last] = value
    return tree


class Tally:
    def __init__(self) -> None:
        self.total = self.loaded = self.refused = 0
        self.tracebacks: list[str] = []
        self.hangs: list[float] = []
        self.without_field: list[str] = []
        self.slowest_s = 0.0
        self.largest_growth_mb = 0.0  # the most one input raised the process's peak RSS

    def check(self, text: str) -> None:
        self.total += 1
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        try:
            parse_config_text(text, "fuzz.yaml", REPO, {}, MODEL_CHECKS)  # as `streamer run` loads it
            self.loaded += 1
        except ConfigError as error:
            self.refused += 1
            self.without_field += [
                issue.message
                for issue in error.issues
                if not issue.path and issue.line is None and not _whole_file(issue.message)
            ]
        except Exception as error:  # exactly what must never happen
            self.tracebacks.append(f"{type(error).__name__}: {str(error)[:200]}")
        elapsed = time.monotonic() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        self.largest_growth_mb = max(self.largest_growth_mb, grown)
        self.slowest_s = max(self.slowest_s, elapsed)
        if elapsed > HANG_S:
            self.hangs.append(round(elapsed, 2))


def _whole_file(message: str) -> bool:
    """Errors about the file as a whole (it says so), which have no field to name."""
    return message.startswith(("the file is larger", "expected a mapping", "cannot read the config"))


def hostile_texts() -> list[str]:
    bomb = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    return [
        "\n".join(bomb) + "\ncameras: {x: {url: x.mp4}}\n",
        "cameras: " + "[" * 2000 + "]" * 2000 + "\n",
        'cameras:\n  a: {url: "clip\\0.mp4"}\n',
        "cameras:\n  a: {url: a.mp4}\n  a: {url: b.mp4}\n",
        "cameras:\n  a:\n    url: a.mp4\n    record: {pre_roll_s: true}\n",
        "cameras:\n  a:\n    url: a.mp4\n    zones: {z: {polygon: [[.nan, 1], [1.0e+308, 2], [3, 1]]}}\n",
        "redis: {url: 'redis://127.0.0.1:notaport/0'}\ncameras: {a: {url: a.mp4}}\n",
        "cameras: {a: {url: a.mp4, detect: {device: 'cuda:99'}}}\n",
        "api: {host: 0.0.0.0}\ncameras: {a: {url: a.mp4}}\n",
        "# " + "x" * (2 << 20) + "\n",
        "\ufeffcameras: {a: {url: a.mp4}}\n",
        "cameras: !!python/object/apply:os.system ['true']\n",
        "",
        "---\n---\n",
    ]


def run(examples: int) -> dict:
    tally, tree = Tally(), example_tree()
    paths = list(_paths(tree))
    for text in hostile_texts():
        tally.check(text)

    @settings(max_examples=max(1, examples // 2), deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(paths), st.sampled_from(["replace", "delete", "add"]), VALUES)
    def tree_mutations(path, action, value):
        tally.check(yaml.safe_dump(_mutate(tree, path, action, value), allow_unicode=True))

    dumped = yaml.safe_dump(tree)

    @settings(
        max_examples=max(1, examples - examples // 2),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(0, len(dumped)), st.text(max_size=20), st.sampled_from(["insert", "cut", "repeat"]))
    def text_mutations(at, insert, action):
        if action == "insert":
            tally.check(dumped[:at] + insert + dumped[at:])
        elif action == "cut":
            tally.check(dumped[:at])
        else:
            lines = dumped.splitlines(keepends=True)
            index = at % max(1, len(lines))
            tally.check("".join(lines[: index + 1] + lines[index:]))

    started = time.monotonic()
    tree_mutations()
    text_mutations()
    return {
        "configs": tally.total,
        "loaded": tally.loaded,
        "refused": tally.refused,
        "tracebacks": len(tally.tracebacks),
        "traceback_examples": tally.tracebacks[:5],
        "hangs": len(tally.hangs),
        "slowest_s": round(tally.slowest_s, 3),
        "errors_without_field": len(tally.without_field),
        "without_field_examples": tally.without_field[:5],
        "largest_rss_growth_mb": round(tally.largest_growth_mb, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
