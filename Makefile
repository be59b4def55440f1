# dian — developer entry points. `make test` and `make demo` build .venv from
# requirements.lock on first use, then take seconds while it is current.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp

TREE   := $(VENV)/package-tree

.PHONY: demo test test-all lint bench clean

# The venv is current while its stamp is newer than the lock and pyproject.
# pip install -r over an existing venv only changes what the lock changed.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-warn-script-location -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Compile the trained digits LeNet, run it on held-out digits, print predictions; then compile it
# for the tiny accelerator, run one digit on the machine simulator and on the RTL in Verilator
# (both checked against the reference, the RTL's cycles against the machine simulator's),
# synthesize the RTL with Yosys for ECP5 (synthesis only, ~30 s; place and route takes ~5 min),
# and run the RTL again on a random AXI memory (ready dropped, long latencies): still bit-exact.
demo: $(STAMP)
	$(BIN)/dian compile zoo:lenet --input-shape 1,1,8,8 --out demo-out
	$(BIN)/python -m dian.demo demo-out --samples demo-inputs
	$(BIN)/dian run demo-out --input demo-inputs/digit00.npy --output demo-inputs/digit00.out.npy
	$(BIN)/dian compile zoo:lenet --input-shape 1,1,8,8 --out demo-accel --accel tiny
	$(BIN)/dian simulate demo-accel --input demo-inputs/digit00.npy --output demo-inputs/digit00.accel.npy
	$(BIN)/dian simulate demo-accel --input demo-inputs/digit00.npy --rtl
	$(BIN)/dian synth demo-accel --target ecp5-25k --no-pnr
	$(BIN)/dian simulate demo-accel --input demo-inputs/digit00.npy --rtl --memory random:7

# Lint, format, layering and types. import-linter and mypy read the package from disk, so they run
# on a tree of links that has dian's subpackages where Python's import system puts them.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/package_tree.py $(TREE) > /dev/null
	cd $(TREE) && $(CURDIR)/$(BIN)/lint-imports --no-logo --no-cache $(CURDIR)/pyproject.toml
	cd $(TREE) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml

# Lint, then the fast tier. pytest's own exit code is the target's (5 = no tests collected fails).
# Extra pytest arguments: make test ARGS="-k e2e -x"
test: lint
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

# Everything, including the slow tier (full fuzzing, big models).
test-all: lint
	$(BIN)/python -m pytest $(ARGS)

# Every benchmarks/bench_*.py in turn; each prints its table and writes benchmarks/results/.
bench: $(STAMP)
	@set -e; scripts="$$(ls benchmarks/bench_*.py 2>/dev/null || true)"; \
	if [ -z "$$scripts" ]; then echo "make bench: no benchmarks/bench_*.py yet" >&2; exit 1; fi; \
	for s in $$scripts; do echo "== $$s"; $(BIN)/python $$s; done

clean:
	rm -rf $(VENV) demo-out demo-accel demo-inputs build .pytest_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
