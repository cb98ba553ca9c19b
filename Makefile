# Entry points: `make run` (the main job) and `make test` (the suite). Both build .venv first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install run test test-unit bench bench-models fuzz chaos load stop clean

$(STAMP): pyproject.toml
	@command -v python3.11 >/dev/null || command -v python3 >/dev/null || { echo "python 3.11 is required"; exit 1; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/arbees run

stop: install
	$(VENV)/bin/arbees stack down

# pytest exits 5 when it collected no tests: that is a failure here, said out loud.
# The suite runs on TEST_WORKERS pytest-xdist workers, each on a stack of its own (tests/conftest.py), tests handed
# out one at a time in the collected order; most of a test's time is waiting on the broker and the agent workers it
# starts, so 3 workers on 2 cores take about half the time of one process (TEST_WORKERS=0: one process).
TEST_WORKERS ?= 3
test: install
	@$(VENV)/bin/pytest -p no:cacheprovider -q --durations=15 -n $(TEST_WORKERS) --maxschedchunk 1 $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; fi; exit $$rc

test-unit: install
	@$(VENV)/bin/pytest -p no:cacheprovider -q tests/unit; rc=$$?; [ $$rc -ne 5 ] || echo "no tests collected"; exit $$rc

bench: install
	$(PY) -m bench.run

bench-models: install
	$(PY) -m bench.models

# Mutated recorded payloads through every connector and the codec (FUZZ_EXAMPLES per target: 6-14 min at 500 on 2 cores);
# writes fuzz.inputs / fuzz.escaped into bench/results.json and fails on any escape.
FUZZ_EXAMPLES ?= 500
fuzz: install
	$(PY) -m bench.fuzz --examples $(FUZZ_EXAMPLES)

# The recorded session through `arbees run` on a stack of its own (.stack-chaos) while parts are SIGKILLed,
# the broker restarted twice and the database stopped for 30 s, every broker connection delayed; then every
# invariant. Writes chaos.* into bench/results.json; fails on any violation (~10-15 min on 2 busy cores).
CHAOS_ARGS ?=
chaos: install
	$(PY) -m ops.chaos --results bench/results.json $(CHAOS_ARGS)

# 1,000 live events x 3 markets on both venues through the agent groups and the sink for 10 minutes at the
# recorded session's update pace (bench/load.py); writes load.* into bench/results.json and fails unless the groups'
# lag stayed bounded and every update became a row (~15 min).
LOAD_ARGS ?=
load: install
	$(PY) -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .stack .stack-test .stack-bench .stack-chaos ops/kafka/lib ops/kafka/target
