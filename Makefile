# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## talk to the bot in this terminal (operator, camat, dinas personas; no token, no network)
	$(BIN)/lanjutkan demo

test: $(STAMP)  ## lint and type-check, then every test (PostgreSQL ones run when its server binaries are installed)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers models scheduler
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy bot handlers models scheduler

bench: $(STAMP)  ## the speed and memory targets
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/whatsapp.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/outbox.py
	$(BIN)/python benchmarks/registry.py
	$(BIN)/python benchmarks/summary.py
	$(BIN)/python benchmarks/verification.py
	$(BIN)/python benchmarks/fuzz.py
	$(BIN)/python benchmarks/chaos.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
