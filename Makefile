# Longtail: `make demo` runs it, `make test` tests it. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
# The torch build: CPU by default (the Dockerfile's TORCH_INDEX too); a CUDA index for a GPU machine.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test lint venv serve worker bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned, from the CPU wheel index: PyPI's Linux torch pulls several GB of CUDA wheels.
	# Where that index cannot be reached, pip's other sources (PyPI, a mirror) are tried.
	$(PIP) install -q --retries 1 --timeout 20 --index-url $(TORCH_INDEX) torch==2.13.0 || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	$(PY) manage.py runserver 127.0.0.1:8000

# Two test processes (each with its own test database, Redis database and var folder: tests/conftest.py),
# a file's tests in one of them; TEST_PROCESSES=0 runs everything in this process.
TEST_PROCESSES ?= 2

test: venv
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

worker: venv
	$(VENV)/bin/celery -A config worker -Q default,embed,train -l info

# Benchmarks write bench/results/*.json and need ../shared/datasets and a local PostgreSQL.
bench: venv
	$(PY) bench/embed_datasets.py
	$(PY) bench/import_bench.py
	$(PY) bench/dedup_bench.py
	$(PY) bench/learner_bench.py
	$(PY) bench/turnaround_bench.py

clean:
	rm -rf $(VENV) var staticfiles test-artifacts .pytest_cache
