# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and install what the project needs; a second run
# only re-installs when pyproject.toml changed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The CPU build of torch lies in /opt/wheels on our machines; never let pip pull CUDA.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PIP    := $(PY) -m pip install --disable-pip-version-check -q $(FIND_LINKS)
# every core; tests on the one throwaway Postgres stay in one worker (tests/conftest.py)
PYTEST_ARGS ?= -n auto --dist loadgroup

.PHONY: demo test lint typecheck install clean

demo: $(STAMP)
	$(VENV)/bin/sentitrade demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) torch==2.13.0
	$(PIP) -e ".[dev,finbert,postgres,redis]"
	@touch $@

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
