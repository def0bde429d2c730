# Two commands for a fresh machine with python3 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml batchtui/core/results/_linescan.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/batchtui --demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto

lint: $(STAMP)
	$(BIN)/ruff check batchtui tests
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python tests/bench/sandbox_throughput.py
	$(BIN)/python tests/bench/make_batch_file.py
	$(BIN)/python tests/bench/validate_file.py
	$(BIN)/python tests/bench/job_plan.py
	$(BIN)/python tests/bench/stats.py
	$(BIN)/python tests/bench/import_batch.py
	$(BIN)/python tests/bench/log_store_push.py
	cd tests/bench && ../../$(BIN)/python result_index.py && ../../$(BIN)/python tui_results.py && ../../$(BIN)/python cold_start.py

screenshots: $(STAMP)
	$(BIN)/python screenshots/make_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache
