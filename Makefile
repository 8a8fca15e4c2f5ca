# Every target sets up what it needs: a virtual environment with pinned packages,
# and (for the MicroPython tests) the pinned WebAssembly MicroPython from npm.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BMSCTL := $(VENV)/bin/bmsctl
STAMP := $(VENV)/.installed
MPY_DIR := host_tools/mpy
MPY_STAMP := $(MPY_DIR)/node_modules/.installed

.PHONY: help sim sim-alternator plot test build bench fuzz soak flash deploy update repl reset vboard docs clean
BOARD ?= esp32-devkitc

help:
	@echo "make sim    run the firmware against the simulated bank (default scenario)"
	@echo "make sim-alternator  the alternator and System+ ports: a drive, the charge limit, a short"
	@echo "make plot   run the default scenario and draw it to build/sim/default.png"
	@echo "make test   run every test, under CPython and MicroPython, plus the ESP32 compile"
	@echo "make build  compile the firmware to .mpy for ESP32 (xtensawin) and ESP32-C3 (rv32imc)"
	@echo "make fuzz   the link decoder fuzzed 10^6 times (CPython) and 10^5 (MicroPython) -> build/bench/fuzz.json"
	@echo "make soak   30 days of a van's life with random faults (CPython) and 3 inside MicroPython -> build/bench/soak.json"
	@echo "make bench  tick jitter with Bluetooth, alternator regulation, memory under MicroPython, SoC accuracy -> build/bench/*.json"
	@echo "make flash PORT=/dev/ttyUSB0 FIRMWARE=ESP32_GENERIC-v1.27.0.bin [BOARD=esp32-devkitc]"
	@echo "           erase the chip and write MicroPython (esptool)"
	@echo "make deploy PORT=/dev/ttyUSB0 [BOARD=esp32-devkitc]  copy the .mpy bundle and board file (mpremote)"
	@echo "make update PORT=/dev/ttyUSB0 [BOARD=...]  a safe update of a running board: staged, checked, switched, rolled back if it fails"
	@echo "make repl PORT=/dev/ttyUSB0   the board's REPL: import diag; diag.status()"
	@echo "make reset PORT=/dev/ttyUSB0  reset the board: it boots and starts the BMS"
	@echo "make docs   regenerate docs/codes.md, settings.md, wiring.md from the sources"
	@echo "everything else: .venv/bin/bmsctl --help"
	@echo "make vboard  a virtual board (MicroPython behind a pty) for mpremote; prints its device path"
	@echo "make clean  remove build/, the virtual environment and node_modules"

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(MPY_STAMP): $(MPY_DIR)/package.json $(MPY_DIR)/package-lock.json
	cd $(MPY_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(MPY_STAMP)

sim: $(STAMP)
	$(BMSCTL) sim host_tools/scenarios/default.toml --trace build/sim/default.jsonl

sim-alternator: $(STAMP)
	$(BMSCTL) sim host_tools/scenarios/alternator.toml --trace build/sim/alternator.jsonl

plot: $(STAMP)
	$(BMSCTL) sim host_tools/scenarios/default.toml --trace build/sim/default.jsonl --plot build/sim/default.png --live no

test: $(STAMP) $(MPY_STAMP)
	$(PY) -m pytest -q -n auto tests

build: $(STAMP)
	$(PY) -m host_tools.build

bench: $(STAMP) $(MPY_STAMP)
	$(PY) -m host_tools.bench

fuzz: $(STAMP) $(MPY_STAMP)
	$(PY) -m host_tools.fuzz

soak: $(STAMP) $(MPY_STAMP)
	$(PY) -m host_tools.soak

flash: $(STAMP)
	@$(BMSCTL) flash --port "$(PORT)" --firmware "$(FIRMWARE)" --board "$(BOARD)"

deploy: $(STAMP)
	@$(BMSCTL) deploy --port "$(PORT)" --board "$(BOARD)"

update: $(STAMP)
	@$(BMSCTL) update --port "$(PORT)" --board "$(BOARD)"

repl: $(STAMP)
	@$(BMSCTL) repl --port "$(PORT)"

reset: $(STAMP)
	@$(BMSCTL) reset --port "$(PORT)"

vboard: $(STAMP) $(MPY_STAMP)
	$(BMSCTL) vboard

docs: $(STAMP)
	$(PY) -m host_tools.docgen

clean:
	rm -rf build $(VENV) .pytest_cache $(MPY_DIR)/node_modules
