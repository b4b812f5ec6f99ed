# nanochat Lab — one target per check; CI (.ci/run) calls `make test`, the README's test command.
# Every install step is idempotent and stamped under .stamps/; a stamp depends on that step's real inputs only,
# so a second run costs seconds and an edit rebuilds only what it feeds.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMPS := .stamps
HOST ?= 127.0.0.1
PORT ?= 8000
APT_PACKAGES := bubblewrap util-linux iproute2 librust-pyo3-dev librust-fancy-regex-dev librust-ahash-dev \
	librust-rayon-dev chromium chromium-driver fonts-wqy-microhei gettext fortunes fortunes-zh wamerican
# Bytecode (and pytest's rewritten test modules) cached under var/, outside the source tree: without a cache
# every test process compiles every module again.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(abspath var/pycache)

# pytest in parallel (pytest-xdist), one worker per core: much of the suite waits on sandboxes, subprocesses
# and timeouts. Each worker collects the whole suite and sets up its own fixtures, so more workers than cores
# only add CPU on a shared machine. `make test-fast XDIST=` runs serially.
XDIST ?= -n auto --dist worksteal
PYTEST := $(PY) -m pytest
# `$(AREA) NAME SECONDS COMMAND...`: one area of `make test`, timed and failed past its budget.
AREA := TIMES_FILE=$(STAMPS)/test-times scripts/timed.sh

.PHONY: install system python rustbpe frontend services sandbox-image stack-images stack-up stack-down stack-test starters figures run test test-fast test-frontend \
	lint bench clean FORCE

install: system python rustbpe frontend

## system packages (Debian); needs root, as on our machines and in CI. The stamp holds the package list it
## installed: a changed list installs what is missing, anything else costs one comparison.
system: $(STAMPS)/system
$(STAMPS)/system: FORCE
	@mkdir -p $(STAMPS)
	@if [ "$$(cat $@ 2>/dev/null)" != "$(strip $(APT_PACKAGES))" ]; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "apt-get install:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	  echo "$(strip $(APT_PACKAGES))" > $@; \
	fi

## Python virtual environment with exact pins (torch==2.13.0 is a CPU wheel on local disk)
python: $(STAMPS)/python
$(STAMPS)/python: requirements.txt
	@mkdir -p $(STAMPS)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements.txt
	@touch $@

## the Rust BPE trainer, built with maturin against Debian's crates (offline); rebuilt when the crate changes;
## then the dependency cache learner sandboxes compile module 2's Rust step from (var/rust-cache, docs/authoring.md)
RUSTBPE_INPUTS := $(shell find rustbpe/src -name '*.rs' 2>/dev/null) rustbpe/Cargo.toml rustbpe/Cargo.lock \
	rustbpe/pyproject.toml
rustbpe: $(STAMPS)/rustbpe
$(STAMPS)/rustbpe: $(RUSTBPE_INPUTS) | $(STAMPS)/python $(STAMPS)/system
	cd rustbpe && VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH maturin develop --release -q
	$(PY) -m scripts.rust_cache
	@touch $@

## the TypeScript frontend (Vite + Monaco + Plotly), built locally, served by Django: `npm ci` when the
## dependencies change, the Vite build (seconds) when a source changes; its wire types and validators are
## generated from the JSON Schemas of the web contract (labplatform/schemas/)
FRONTEND_SOURCES := $(shell find frontend/src frontend/scripts -path frontend/src/gen -prune -o -type f -print 2>/dev/null) \
	frontend/vite.config.ts frontend/tsconfig.json $(wildcard labplatform/schemas/*.schema.json) \
	grading/engine/result.schema.json grading/engine/messages.json
frontend: $(STAMPS)/frontend
$(STAMPS)/frontend-deps: frontend/package.json frontend/package-lock.json
	@mkdir -p $(STAMPS)
	cd frontend && (npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error)
	@touch $@
$(STAMPS)/frontend: $(STAMPS)/frontend-deps $(FRONTEND_SOURCES)
	cd frontend && npm run build
	@touch $@

FORCE:

## PostgreSQL and Redis for the production-path tests (already running on our machines)
services:
	@bash scripts/ensure-services.sh

## a Docker engine and the Docker sandbox backend's image, for its tests (docs/threat-model.md, "Docker backend"):
## installs docker.io + mmdebstrap and starts dockerd when no engine answers (root), then builds the image offline
## once per content hash (scripts/sandbox-image.sh: cold about 4-6 min here, cached a few seconds); where no
## engine can run it says why and the Docker tests skip with that reason
sandbox-image: $(STAMPS)/python
	@bash scripts/ensure-docker.sh

## the compose stack (docker/compose.yaml, docs/operations.md "The compose stack"): its images, built offline and
## cached by content hash (scripts/stack-images.sh); `make stack-up` brings it up on this machine, http://localhost:8080/
stack-images: $(STAMPS)/python $(STAMPS)/frontend sandbox-image
	@bash scripts/stack-images.sh
stack-up: $(STAMPS)/python $(STAMPS)/frontend
	@bash scripts/stack.sh up
stack-down:
	@bash scripts/stack.sh down
## the compose stack's smoke test (tests/production/test_compose_stack.py): builds the stack's images (cached by
## content hash) and drives sign-up -> submit -> streamed verdict through them. 76 s with cached images; a fresh
## machine first builds python, worker, postgres and redis (about 1,500 s at load 11-28), which would take CI past
## its 75 minutes, so it runs here by hand (docs/operations.md), not in `make test`.
stack-test: $(STAMPS)/python $(STAMPS)/frontend
	@status=0; $(PYTEST) $(REST) -m docker || status=$$?; bash scripts/stop-docker.sh; exit $$status

## the learner starter files, generated from the references into var/starters/<slug>/<path> (docs/authoring.md)
starters: $(STAMPS)/python
	$(PY) -m modules.starters content --out var/starters

## the handouts' figures, computed from nanochat_ref into var/figures/<slug>/ (docs/authoring.md, "Handouts");
## sync_content regenerates them by itself when they are missing or stale
figures: $(STAMPS)/python
	$(PY) -m scripts.figures --out var/figures

## README command 1: install, migrate SQLite, sync content, demo learner, build frontend, serve
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sync_content
	$(PY) manage.py ensure_demo_learner
	$(PY) manage.py runlab --host $(HOST) --port $(PORT)

## README command 2: everything CI checks, area by area, each timed against its budget (DECISIONS.md, "CI
## budget": 75 minutes on 2 cores, installs included). Each budget is a cap with room above the area's measured time
## (a fresh machine's image builds included), so the caps add up to more than the whole; the measured total is
## what must stay within the 75 minutes (the closing notes give it). The table of times is printed at the end. The sandbox and the grading engine are gated at 100 % line coverage (exemptions:
## docs/threat-model.md, docs/grading-engine.md); the rest of the suite runs once without tracing, split by
## marker. Browser and production tests run one at a time: each drives a whole lab (daphne, or Celery with
## PostgreSQL and Redis; Chromium) and waits on it with timeouts.
COV_GATE := --cov-report=term-missing:skip-covered --cov-fail-under=100 -q
ASSEMBLE_ON_DOCKER := tests/engine/test_engine_assemble_jobs.py::test_a_base_run_streams_progress_and_loss_and_brings_the_model_back \
  tests/engine/test_engine_assemble_jobs.py::test_the_learners_model_answers_and_streams_its_text_so_far
REST := --ignore=tests/sandbox --ignore=tests/engine
test:
	@mkdir -p $(STAMPS) && rm -f $(STAMPS)/test-times
	@$(AREA) install 480 $(MAKE) --no-print-directory install services
	@$(AREA) lint 120 $(MAKE) --no-print-directory lint
	@$(AREA) frontend 60 $(MAKE) --no-print-directory test-frontend
	@# from inside the crate: cargo reads the source replacement (Debian's crates) from rustbpe/.cargo/
	@$(AREA) cargo-test 90 env -C rustbpe cargo test --release -q --offline
	@# the shared sandbox suite runs on both backends, and the engine's golden submissions on Docker too: the
	@# docker area starts an engine (if none answers) and builds the image (cold about 4-6 min, cached seconds);
	@# the engine make test started is stopped after the engine-docker area, pass or fail (docs/operations.md)
	@status=0; $(AREA) docker 480 $(MAKE) --no-print-directory sandbox-image || status=$$?; \
	  if [ $$status != 0 ]; then bash scripts/stop-docker.sh; fi; exit $$status
	@status=0; $(AREA) sandbox 270 env COVERAGE_FILE=$(STAMPS)/coverage.sandbox $(PYTEST) $(XDIST) tests/sandbox \
	  --cov=sandbox $(COV_GATE) || status=$$?; if [ $$status != 0 ]; then bash scripts/stop-docker.sh; fi; \
	  exit $$status
	@# ...and an assemble run's model coming back out of a container, then a reply from it
	@status=0; $(AREA) engine-docker 240 env SANDBOX_BACKEND=docker $(PYTEST) $(XDIST) tests/engine/test_golden.py \
	  $(ASSEMBLE_ON_DOCKER) --timeout 300 || status=$$?; bash scripts/stop-docker.sh; exit $$status
	@# a grading job ends within its wall clock plus slack (about 90 s): a test past 300 s is a hang, not a slow run
	@$(AREA) engine 270 env COVERAGE_FILE=$(STAMPS)/coverage.engine $(PYTEST) $(XDIST) tests/engine \
	  --timeout 300 --cov=grading.engine $(COV_GATE)
	@$(AREA) rest-fast 900 $(PYTEST) $(XDIST) $(REST) -m "not slow and not browser and not production"
	@$(AREA) rest-slow 1500 $(PYTEST) $(XDIST) $(REST) -m "slow and not browser and not production"
	@$(AREA) browser 900 $(PYTEST) $(REST) -m "browser and not production"
	@# the fault tests (tests/production/test_production_faults.py): five faults, each against a 60 s mini-load,
	@# on a stack with its own Redis and PostgreSQL: about 90 s each plus the stack's start, 600 s on 2 idle cores
	@$(AREA) production 960 $(PYTEST) $(REST) -m "production and not docker"
	@echo "== make test: time per area" && cat $(STAMPS)/test-times

## the frontend's unit tests (Vitest, happy-dom)
test-frontend: $(STAMPS)/frontend
	cd frontend && npm test

## the developer's loop: what it uses is rebuilt only when its inputs changed; no slow, browser or
## production tests; in parallel
test-fast: install
	$(PYTEST) $(XDIST) -x -q -m "not slow and not browser and not production"

lint: $(STAMPS)/python $(STAMPS)/frontend-deps | $(STAMPS)/system
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd frontend && npm run lint
	cd rustbpe && cargo fmt --check && cargo clippy --release -q --offline -- -D warnings

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(STAMPS) frontend/dist rustbpe/target var/pycache
