# One command per task; CI runs the same ones (.ci/run calls `make test`).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
LINT_PATHS := src tests $(wildcard benchmarks demo_client.py)

.DEFAULT_GOAL := help
.PHONY: help install up test test-unit test-slow lint fmt bench lock clean browser

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with pinned dependencies

up: install ## start everything (embedded PostgreSQL 18, API, scheduler, worker) on http://127.0.0.1:8080
	$(BIN)/chronosched up

lint: install ## ruff + mypy (strict)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

fmt: install ## format the code
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

test: install lint browser ## every check: lint, then all tests (embedded PostgreSQL 18 unless CHRONOSCHED_TEST_DATABASE_URL is set)
	$(BIN)/pytest -m "not slow" --cov=chronosched --cov-report=term:skip-covered $(PYTEST_ARGS)

browser: ## Debian's chromium for the UI tests (installed with apt-get when missing; no browser download)
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

test-unit: install ## unit tests only (no database)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-slow: install ## opt-in soak and load tests
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

bench: install ## benchmarks (print figures; see docs/benchmarks.md)
	$(BIN)/python -m benchmarks.run_all

lock: ## re-resolve and pin all dependencies into constraints.txt
	rm -rf /tmp/chronosched-lock && $(PY) -m venv /tmp/chronosched-lock
	/tmp/chronosched-lock/bin/pip install -q -e '.[dev]'
	{ echo "# Exact versions installed by 'make' (pip -c constraints.txt). Regenerate with 'make lock'."; \
	  /tmp/chronosched-lock/bin/pip freeze --exclude-editable; } > constraints.txt

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
