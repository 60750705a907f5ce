# Two entry points, both starting from a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/ppc-dump: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: setup demo test bench
setup: $(BIN)/ppc-dump

demo: setup
	$(BIN)/python examples/eight_schools.py

# Four workers on two cores: a worker keeps much of what it compiles (XLA executables, TF
# graphs). With two, each running half of the 2,315 tests, one crashed late in two runs in a
# row (a segfault inside XLA's compile or a TF run); its memory maps then neared Linux's
# 65,530 (four workers peaked near 40,000 each).
test: setup
	$(BIN)/python -m pytest -n 4 -q

bench: setup
	$(BIN)/python benchmarks/compile_overhead.py
