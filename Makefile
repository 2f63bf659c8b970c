# Trialdesk developer entry points. Needs GNU make and Python 3.11 (python3.11, or python3 when that is 3.11).
#
#   make run    install into .venv, migrate, load the demo portfolio (first time only), serve on $(URL)
#   make test   ruff + the whole test suite on SQLite, then on PostgreSQL (see scripts/test.sh)
#   make bench  SCALE=S|M|L DB=sqlite|postgres [BENCH_DATABASE_URL=...] [BENCH_ARGS=...]: every operation against
#               its SQL floor, then a load test (bench/README.md, docs/performance.md)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
HOST := 127.0.0.1
PORT := 8000
URL := http://$(HOST):$(PORT)
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check

SCALE ?= M
DB ?= sqlite
BENCH_ARGS ?=

.PHONY: help run test bench

help:
	@echo "make run   - install, migrate, load the demo portfolio and serve on $(URL)"
	@echo "make test  - ruff, then pytest on SQLite and on PostgreSQL (TRIALDESK_TEST_DATABASE_URL)"
	@echo "make bench - SCALE=S|M|L DB=sqlite|postgres: every operation vs its SQL floor, then a load test"

$(BIN)/python:
	@if command -v python3.11 >/dev/null 2>&1; then py=python3.11; \
	elif command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; \
	then py=python3; \
	else echo "Trialdesk needs Python 3.11: install python3.11 (found: $$(python3 --version 2>&1))." >&2; exit 1; fi; \
	echo "Creating $(VENV) with $$($$py --version)"; \
	$$py -m venv $(VENV)

# Stamps: reinstall only when pyproject.toml changes (the editable install picks up source changes itself).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "Installing Trialdesk into $(VENV) ..."
	@$(PIP_INSTALL) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing Trialdesk with development tools into $(VENV) ..."
	@$(PIP_INSTALL) -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@$(BIN)/trialdesk migrate --noinput
	@TRIALDESK_DEMO=1 $(BIN)/trialdesk load_demo --if-empty --url $(URL)
	@TRIALDESK_DEMO=1 TRIALDESK_DEBUG=1 $(BIN)/trialdesk runserver $(HOST):$(PORT)

test: $(VENV)/.installed-dev
	@VENV=$(VENV) scripts/test.sh

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	@echo "Installing Trialdesk with the benchmark tools (locust, pyinstrument) into $(VENV) ..."
	@$(PIP_INSTALL) -e '.[bench]'
	@touch $@ $(VENV)/.installed

bench: $(VENV)/.installed-bench
	@$(BIN)/python bench/run.py --scale $(SCALE) --db $(DB) \
		$(if $(BENCH_DATABASE_URL),--database-url '$(BENCH_DATABASE_URL)') $(BENCH_ARGS)
