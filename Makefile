# Every target sets itself up: a fresh machine needs only python3 (3.10+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench mutants clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The kit is installed editable, and pip byte-compiles only what it copies: without this, a
# machine with PYTHONDONTWRITEBYTECODE set (many CI images) compiles the grader from source in
# every process it starts (0.3 s for a batch worker's imports). Up to date, this takes 0.1 s.
COMPILE := $(BIN)/python -m compileall -q grader

demo: $(STAMP)
	$(COMPILE)
	$(BIN)/grader demo --out build/demo

test: $(STAMP)
	$(COMPILE)
	$(BIN)/ruff check .
	$(BIN)/grader release --check
	$(BIN)/python -m pytest -q -n auto --dist loadfile  # one test file per worker: module fixtures run once

bench: $(STAMP)
	$(COMPILE)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Every mutant of every exercise (the tests grade a fixed sample); cached in build/mutants-cache.
mutants: $(STAMP)
	$(COMPILE)
	$(BIN)/grader mutants solutions/*.ipynb

clean:
	rm -rf $(VENV) build
