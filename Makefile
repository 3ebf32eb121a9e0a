# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Sets up and runs the main job on embedded defaults.
run: $(STAMP)
	$(BIN)/triage demo

## Installs the servers the tests need (PostgreSQL, ...) and runs every test.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest

## The fast core only: no PostgreSQL, browser or Spark.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not postgres and not browser and not spark and not slow"

system-deps:
	bash scripts/install-system-deps.sh

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .triage .pytest_cache
