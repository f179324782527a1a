# make run          set up .venv/ and system packages, then start the playground
# make train        the same plus music21, then train on data/midi/ or music21's folk songs
# make test         the same set-up plus test tools, then the test suite less its slow end-to-end tests
#                   (two workers, about 4 minutes)
# make test-slow    the slow end-to-end tests make test leaves out: most browser tests, the docs' commands,
#                   servers started for one test, the wheel, training signals (.ci/run runs both)
# make test-all     both: the whole suite
# make test-fast    the unit tests only: no browser, no process started, nothing slow (under a minute)
# make lint         ruff (style, complexity, bugbear, docstrings) and vulture (dead code)
# make coverage     the whole suite under coverage.py: line coverage of melody/ (MARKS="not slow": make test's)
# make screenshots  refresh docs/*.png (the README's pictures of the page)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
AXE := node_modules/axe-core/axe.min.js
TEST_WORKERS ?= 2
MARKS ?=

.PHONY: run train test test-slow test-all test-fast lint coverage setup setup-train setup-test system system-test sample screenshots clean

run: setup system
	$(BIN)/python app.py

train: setup-train
	$(BIN)/python train.py

test: setup-test system-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow"

test-slow: setup-test system-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m slow

test-all: setup-test system-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

test-fast: setup-test
	$(BIN)/python -m pytest -q -m "not system and not slow and not heavy"

lint: $(VENV)/.dev
	$(BIN)/ruff check melody tests bench scripts app.py train.py
	$(BIN)/vulture melody app.py train.py bench scripts --min-confidence 60  # scripts/vulture_allow.py: the public API

coverage: setup-test system-test
	rm -f .coverage .coverage.*
	COVERAGE_FILE=$(CURDIR)/.coverage $(BIN)/python -m coverage run -m pytest -q -n $(TEST_WORKERS) $(if $(MARKS),-m "$(MARKS)"); status=$$?; \
	$(BIN)/python -m coverage combine -q; $(BIN)/python -m coverage report | tail -1; exit $$status

setup: $(VENV)/.runtime
setup-train: $(VENV)/.train
setup-test: $(VENV)/.dev $(AXE)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed ($(PYTHON) is older): install it, or run make PYTHON=python3.11."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { echo "Could not create $(VENV): install Python 3.11+ with venv (Debian: sudo apt-get install python3-venv)."; exit 1; }

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.train: requirements-train.txt $(VENV)/.runtime
	$(PIP) -r requirements-train.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements-train.txt requirements.txt $(VENV)/.train
	$(PIP) -r requirements-dev.txt
	@touch $@

system:
	@scripts/system-deps.sh run

system-test:
	@scripts/system-deps.sh test

# axe-core (the accessibility checker the browser tests inject), pinned in package-lock.json.
$(AXE): package.json package-lock.json | system-test
	@command -v npm >/dev/null || { echo "npm is missing for the accessibility tests: 'sudo apt-get install npm'."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# A sample continuation from the command line, without the page.
sample: setup system
	$(BIN)/python -m melody generate --seed "C4 D4 E4 G4 E4 D4 C4" --length 64 --rng-seed 7 --out sample.mid

screenshots: setup-test system-test
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache node_modules
