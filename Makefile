# ATP: every target bootstraps what it needs (a .venv from the lock file, local services).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# (the trailing word names the recipe: changing it re-runs the install once everywhere)
STAMP := $(VENV)/.installed-$(shell (sha1sum requirements.lock pyproject.toml; echo bytecode) | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help venv test lint typecheck unit demo bench lock clean services browser integrity-tools

help:
	@echo "make demo   - set up and run the platform on emulators (http://127.0.0.1:8002)"
	@echo "make test   - set up and run lint, type check and the whole test suite"
	@echo "make bench  - run the benchmarks in bench/ and print their figures"
	@echo "make lock   - re-pin requirements.lock from pyproject.toml"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check uv
	@# Bytecode compiled at install, as pip does and uv does not by default: where
	@# PYTHONDONTWRITEBYTECODE is set, every `atp` process would otherwise compile ccxt
	@# and the rest from source again (~15 s of CPU per start; site-packages only, the
	@# source tree stays free of __pycache__).
	$(UV) pip sync -q -p $(PY) --compile-bytecode requirements.lock
	$(UV) pip install -q -p $(PY) --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

services:
	@bash scripts/ensure-services.sh

browser:
	@bash scripts/ensure-browser.sh

integrity-tools:
	@bash scripts/ensure-integrity-tools.sh

lint: venv
	$(VENV)/bin/ruff check atp tests bench

typecheck: venv
	$(VENV)/bin/mypy atp

test: venv services browser integrity-tools lint typecheck
	ATP_REQUIRE_PG=1 ATP_REQUIRE_BROWSER=1 ATP_REQUIRE_SSHD=1 ATP_REQUIRE_DOCKER=1 $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

demo: venv
	$(VENV)/bin/atp demo $(DEMO_ARGS)

bench: venv
	$(PY) bench/collect.py $(BENCH_ARGS)

lock: venv
	$(UV) pip compile -q pyproject.toml --extra dev -p $(PY) -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
