# The two commands of the README:  `make demo` (set up everything, run the example)  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test eval install models samples system-deps bench bench-smoke chaos chaos-smoke clean

# torch and torchvision must come as a matching pair (torchvision's compiled ops are built against one torch);
# pip resolves them together here, before the package, whose ultralytics dependency then finds torch in place.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

models: install
	$(BIN)/streamer models pull --dest models
	$(BIN)/streamer models export --config configs/example.yaml   # OpenVINO exports, cached in models/cache

samples: install
	$(BIN)/streamer samples pull --dest data/samples

demo: models samples
	$(BIN)/streamer validate-config -c configs/example.yaml
	$(BIN)/streamer run --config configs/example.yaml --save-annotated data/annotated
	$(BIN)/streamer alerts tail --config configs/example.yaml --from-start --no-follow
	$(BIN)/streamer query "when did a person walk into the crossing" --config configs/example.yaml

system-deps:
	bash scripts/install_system_deps.sh

test: system-deps models samples
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_cycles.py
	$(BIN)/python -m pytest
	$(BIN)/python scripts/eval_query.py --sets 2 --min-hit-rate 0.8 --max-false-answers 1
	$(BIN)/python scripts/eval_vlm.py --smoke > /dev/null
	$(MAKE) bench-smoke
	$(MAKE) chaos-smoke

# the fault harness: its short version fails `make test` when an invariant breaks (a lost alert, a crash, a 5xx…)
chaos-smoke:
	$(BIN)/python scripts/chaos.py --smoke > data/chaos-smoke.json || (cat data/chaos-smoke.json; exit 1)
	@echo "chaos: smoke run clean (figures in data/chaos-smoke.json)"

chaos: models samples
	$(BIN)/python scripts/chaos.py

# every benchmark in a short run, so none of them can rot; their JSON is not a figure
bench-smoke:
	$(BIN)/python scripts/bench_engine.py --smoke > /dev/null
	$(BIN)/python scripts/bench_alerts.py data/samples/bikes.mp4 --smoke > /dev/null
	$(BIN)/python scripts/bench_recording.py data/samples/bikes.mp4 --smoke > /dev/null
	$(BIN)/python scripts/bench_vlm.py data/samples/bikes.mp4 --smoke > /dev/null
	$(BIN)/python scripts/bench_live_view.py data/samples/bikes.mp4 --smoke > /dev/null
	$(BIN)/python scripts/bench_console.py --smoke > /dev/null
	$(BIN)/python scripts/bench_integrations.py data/samples/bikes.mp4 --smoke > /dev/null
	$(BIN)/python scripts/bench_site.py data/samples/bikes.mp4 --smoke > /dev/null
	$(BIN)/python scripts/bench_capacity.py --smoke > /dev/null
	$(BIN)/python scripts/bench_decode.py --smoke > /dev/null
	$(BIN)/python scripts/bench_window_read.py --smoke > /dev/null
	@echo "benchmarks: 11 ran in smoke mode"

eval: models samples
	$(BIN)/python scripts/eval_query.py --sets 3
	$(BIN)/python scripts/eval_vlm.py

bench: models samples
	$(BIN)/python scripts/bench_engine.py
	$(BIN)/python scripts/bench_alerts.py data/samples/bikes.mp4
	$(BIN)/python scripts/bench_recording.py data/samples/bikes.mp4
	$(BIN)/python scripts/bench_vlm.py data/samples/bikes.mp4
	$(BIN)/python scripts/bench_live_view.py data/samples/bikes.mp4
	$(BIN)/python scripts/bench_console.py
	$(BIN)/python scripts/bench_integrations.py data/samples/bikes.mp4
	$(BIN)/python scripts/bench_site.py data/samples/bikes.mp4
	$(BIN)/python scripts/bench_capacity.py
	$(BIN)/python scripts/bench_decode.py
	$(BIN)/python scripts/bench_window_read.py

clean:
	rm -rf $(VENV) data/annotated data/snapshots data/spool data/redis data/recordings data/clips data/vlm data/vlm-demo data/query data/bench data/eval-vlm data/chaos-smoke.json data/index.sqlite3* data/live data/users.sqlite3 data/console-screenshots .pytest_cache
