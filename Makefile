# Two entry points for users: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean gpu-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/quadfree demo --out demo_out

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow"

# On a machine with a CUDA GPU: the CUDA tests plus a short `bench taylor` (< 8 min);
# writes gpu_check/taylor_cuda_1e5.json and taylor_cuda_1e6.json. DEVICE=cpu runs the same script on the CPU (a dry run).
gpu-check: $(STAMP)
	DEVICE=$(or $(DEVICE),cuda) bash scripts/gpu_check.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) demo_out .pytest_cache gpu_check
