# Two commands on a fresh machine: `make demo` (the main job, on the shipped
# default model) and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint bench core-check

$(BIN)/rnncodec: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch and torchaudio first: these two releases work together on CPU.
	$(BIN)/pip install -q torch==2.14.1 torchaudio==2.11.0
	$(BIN)/pip install -q -e .[test]
	touch $@

setup: $(BIN)/rnncodec

demo: setup
	OMP_NUM_THREADS=1 $(BIN)/rnncodec demo --output results/demo

test: lint
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -p no:cacheprovider

# The package's layers and no import cycles (contracts in setup.cfg).
lint: setup
	$(BIN)/lint-imports --no-cache

# The quick subset for edits: everything but the tests marked slow.
test-fast: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

bench: setup
	$(BIN)/rnncodec bench

# The core install (no extras, setup.cfg) codes speech: a venv of its own,
# from a wheel of this checkout.
core-check:
	$(PYTHON) -m venv .venv-core
	.venv-core/bin/pip install -q --upgrade pip
	.venv-core/bin/pip install -q torch==2.14.1 torchaudio==2.11.0
	.venv-core/bin/pip install -q .
	OMP_NUM_THREADS=1 .venv-core/bin/python tests/core_install_smoke.py
