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
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install system python rustbpe frontend services run test test-fast lint bench clean FORCE

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

## the Rust BPE trainer, built with maturin against Debian's crates (offline); rebuilt when the crate changes
RUSTBPE_INPUTS := $(shell find rustbpe/src -name '*.rs' 2>/dev/null) rustbpe/Cargo.toml rustbpe/Cargo.lock \
	rustbpe/pyproject.toml
rustbpe: $(STAMPS)/rustbpe
$(STAMPS)/rustbpe: $(RUSTBPE_INPUTS) | $(STAMPS)/python $(STAMPS)/system
	cd rustbpe && VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH maturin develop --release -q
	@touch $@

## the TypeScript frontend (Vite + Monaco + Plotly), built locally, served by Django: `npm ci` when the
## dependencies change, the Vite build (seconds) when a source changes
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/vite.config.ts frontend/tsconfig.json
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

## README command 1: install, migrate SQLite, sync content, demo learner, build frontend, serve
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sync_content
	$(PY) manage.py ensure_demo_learner
	$(PY) manage.py runlab --host $(HOST) --port $(PORT)

## README command 2: everything CI checks. The sandbox and the grading engine are gated at 100 % line coverage
## (exemptions: docs/threat-model.md, docs/grading-engine.md); the rest of the suite runs once without tracing.
COV_GATE := --cov-report=term-missing:skip-covered --cov-fail-under=100 -q
test: install services lint
	cd rustbpe && cargo test --release -q --offline
	COVERAGE_FILE=$(STAMPS)/coverage.sandbox $(PY) -m pytest tests/sandbox --cov=sandbox $(COV_GATE)
	COVERAGE_FILE=$(STAMPS)/coverage.engine $(PY) -m pytest tests/engine --cov=grading.engine $(COV_GATE)
	$(PY) -m pytest --ignore=tests/sandbox --ignore=tests/engine

test-fast: install
	$(PY) -m pytest -x -q -m "not slow and not browser and not production"

lint: $(STAMPS)/python | $(STAMPS)/system
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd rustbpe && cargo fmt --check && cargo clippy --release -q --offline -- -D warnings

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(STAMPS) frontend/dist rustbpe/target
