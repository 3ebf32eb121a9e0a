# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK  := $(VENV)/.installed-spark
HOME_DIR := $(or $(TRIAGE_HOME),.triage)

.PHONY: run test test-fast screenshots system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## PySpark (about 500 MB) only for the tests and --engine spark: the service and the demo run without it.
$(SPARK): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	touch $(SPARK)

## Sets up and runs the main job on embedded defaults; the workbench secret is made once and kept
## in $(HOME_DIR)/workbench.key, and the API docs are public (TRIAGE_API_DOCS_PUBLIC) on this local demo.
run: $(STAMP)
	mkdir -p $(HOME_DIR)
	test -s $(HOME_DIR)/workbench.key || (umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_hex(32))' > $(HOME_DIR)/workbench.key)
	TRIAGE_WORKBENCH_SECRET="$${TRIAGE_WORKBENCH_SECRET:-$$(cat $(HOME_DIR)/workbench.key)}" \
	TRIAGE_API_DOCS_PUBLIC="$${TRIAGE_API_DOCS_PUBLIC:-true}" $(BIN)/triage demo

## Checks the code's form (ruff), installs the servers the tests need (PostgreSQL, ...) and runs every test.
test: $(SPARK) system-deps
	$(BIN)/ruff check triage tests bench
	$(BIN)/ruff format --check triage tests bench
	$(BIN)/python -m pytest

## The fast core only: no PostgreSQL, browser or Spark.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not postgres and not browser and not spark and not slow"

## Writes the workbench pictures in docs/screenshots/ from the real pages (the browser tests that show them).
screenshots: $(STAMP) system-deps
	TRIAGE_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/workbench/test_browser.py

system-deps:
	bash scripts/install-system-deps.sh

bench: $(STAMP)
	$(BIN)/python bench/bench_models.py

clean:
	rm -rf $(VENV) .triage .pytest_cache
