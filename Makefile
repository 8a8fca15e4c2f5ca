# Every target sets up what it needs: a virtual environment with pinned packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help sim test clean

help:
	@echo "make sim    run the firmware against the simulated bank (default scenario)"
	@echo "make test   run every test"
	@echo "make clean  remove build/ and the virtual environment"

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

sim: $(STAMP)
	$(PY) -m host_tools.sim host_tools/scenarios/default.toml --trace build/sim/default.jsonl

test: $(STAMP)
	$(PY) -m pytest -q tests

clean:
	rm -rf build $(VENV) .pytest_cache
