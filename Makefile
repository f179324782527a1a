# make run   set up .venv/ and system packages, then start the playground
# make test  the same set-up plus test tools, then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: run test setup setup-test system system-test sample clean

run: setup system
	$(BIN)/python app.py

test: setup-test system-test
	$(BIN)/python -m pytest -q

setup: $(VENV)/.runtime
setup-test: $(VENV)/.dev

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create $(VENV): install Python 3.10+ with venv (Debian: sudo apt-get install python3-venv)."; exit 1; }

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt $(VENV)/.runtime
	$(PIP) -r requirements-dev.txt
	@touch $@

system:
	@scripts/system-deps.sh run

system-test:
	@scripts/system-deps.sh test

# A sample continuation from the command line, without the page.
sample: setup system
	$(BIN)/python -m melody generate --seed "C4 D4 E4 G4 E4 D4 C4" --length 64 --rng-seed 7 --out sample.mid

clean:
	rm -rf $(VENV) .pytest_cache
