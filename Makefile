# Every target does its own set-up, so a fresh clone needs nothing but python3, node and npm.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
NODE_STAMP := infra/firestore/node_modules/.installed

.PHONY: setup browser up down demo soak test unit lint typecheck terraform-checks bench reliability lock clean

setup: $(STAMP) $(NODE_STAMP) browser

# The status page's browser tests drive Debian's chromium through its chromedriver; installed where missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

$(STAMP): requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	# The Tasks emulator pins protobuf<5; it runs with ours, so it is installed without its pins.
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps gcloud-tasks-emulator==0.6.2
	touch $@

$(NODE_STAMP): infra/firestore/package-lock.json
	cd infra/firestore && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lock:
	$(BIN)/uv pip compile --quiet pyproject.toml --universal --python-version 3.11 -o functions/requirements.txt
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --universal --python-version 3.11 -o requirements-dev.lock

up: setup
	$(BIN)/python -m infra.stack up

down:
	@test -x $(BIN)/python && $(BIN)/python -m infra.stack down || true

demo: setup
	$(BIN)/python -m infra.demo

# 20 × make up/down and 5 × make demo on fresh secrets; nothing may fail or be left behind (docs/reliability.md).
soak: setup
	$(BIN)/python -m infra.soak --cycles=20 --demos=5

lint: setup
	$(BIN)/ruff check functions infra tests
	$(BIN)/ruff format --check functions infra tests

typecheck: setup
	$(BIN)/mypy functions infra tests

terraform-checks: setup
	$(BIN)/python -m infra.terraform_checks

# Unit tests alone: no stack, no lint. Also reports the line coverage the unit tests give the service layer and
# the handlers ([tool.coverage] in pyproject.toml), and fails under its floor.
unit: setup
	$(BIN)/coverage run -m pytest -q -p no:cacheprovider tests/unit
	$(BIN)/coverage report

# The test run owns its own stack on its own ports, so it never touches one started by `make up`.
test: setup lint typecheck
	$(BIN)/python -m infra.stack run --profile test -- $(BIN)/python -m pytest -q -p no:cacheprovider

bench: setup
	$(BIN)/python -m infra.bench

reliability: setup
	$(BIN)/python -m infra.stack run --profile test -- env MW_RELIABILITY_SIZE=large $(BIN)/python -m pytest -q tests/reliability

clean: down
	rm -rf $(VENV) .venv-checkov infra/firestore/node_modules .local
