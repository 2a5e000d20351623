# The project's one task runner. `make run` and `make test` do all set-up on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip
CONFIG ?= configs/default.toml
# numpy's SIMD dispatch and OpenBLAS's kernels pinned as the adasim command pins it (simulator/world.numpy_kernels.py),
# so that tests calling the library compute as the command line does, on any x86-64.
PIN_NUMPY := NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" OPENBLAS_CORETYPE="Haswell"

.PHONY: run test test-slow lint typecheck bench clean install ml100k browser test-data

# Re-install only when the project's dependency files change (idempotent).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade --quiet pip
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/adasim run $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The HTML report's screenshot test needs a headless Chromium (Debian package). Installing
# it needs root and the Debian registry; where that fails the screenshot test skips and says so.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "note: chromium could not be installed; the report screenshot test will skip"; }

# The MovieLens-100k loader test reads the real files when they are here; fetching them
# needs PyPI (the recbole wheel). Where that fails the test skips and says so.
test-data: $(STAMP)
	@bash scripts/get-ml100k >/dev/null 2>&1 || echo "note: ML-100k not fetched; its loader test will skip"

# The suite runs in two worker processes, one per core (pytest-xdist), each test file
# whole in one of them, so that a file's module-scoped runs are made once.
TEST_WORKERS ?= 2

test: $(STAMP) browser test-data
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(PIN_NUMPY) $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-slow: $(STAMP)
	$(PIN_NUMPY) $(BIN)/python -m pytest -q -m slow -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_world.py

ml100k: $(STAMP)
	bash scripts/get-ml100k

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
