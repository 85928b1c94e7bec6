# geolearn: two commands for a newcomer, `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# The CPU build of torch is pinned here, not in pyproject.toml (users elsewhere bring their own CUDA build).
CONSTRAINTS := constraints-cpu.txt
# Devito compiles C with the system gcc and OpenMP; its JIT cache lives in the system temp dir.
export DEVITO_LANGUAGE ?= openmp
export DEVITO_ARCH ?= gcc
export DEVITO_LOGGING ?= WARNING
export MPLBACKEND ?= Agg
# Reference data: a local mirror beside the checkout when there is one, else pooch downloads
# (with checksum verification) into its cache on first use.
ifneq ($(wildcard ../shared/data),)
export GEOLEARN_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	@touch $(VENV)/.installed-base $@

$(VENV)/.installed-bench: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[dev,bench]"
	@touch $(VENV)/.installed-base $(VENV)/.installed-dev $@

demo: $(VENV)/.installed-base
	$(BIN)/geolearn demo --output outputs/demo

# One test process per core (pytest-xdist): the suite is mostly single-threaded Python and small
# kernels: on the 2-core CI box two processes ran it in 7 min 23 s, one process in 11-12 min.
# Files stay whole on one process (--dist loadfile), so module fixtures (trained networks) are built once.
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n auto --dist loadfile

bench: $(VENV)/.installed-bench
	@for script in benchmarks/*_bench.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check geolearn tests benchmarks
	$(BIN)/ruff format --check geolearn tests benchmarks

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
