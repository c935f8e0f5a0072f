# `make train` and `make test` work on a fresh clone: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: train test test-fast lint bench bench-gpu clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv

# uv installs without compiling (compiling every installed file was most of pip's two minutes); then
# warm_bytecode.py compiles what mlcli imports, which a shell with PYTHONDONTWRITEBYTECODE=1 never would
WARM := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python scripts/warm_bytecode.py

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e .
	$(WARM)
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[dev]"
	$(WARM) --dev
	touch $@ $(STAMP)

train: $(STAMP)
	$(BIN)/mlcli train configs/cnn_digits.yaml

# both cores, one test file per worker (a file's trained runs are shared by its tests)
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# the edit loop: everything not marked slow (nothing that trains through the CLI; under a minute)
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n 2

lint: $(DEV_STAMP)
	$(BIN)/ruff check mlcli tests benchmarks scripts

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/run_all.py

bench-gpu: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench_gpu.py
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) build *.egg-info
