# The two commands a newcomer needs:
#   make run   - set up a local virtualenv and run Callwright on its embedded defaults
#   make test  - set up the virtualenv and run the whole suite (ruff, mypy, pytest)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve test lint setup clean bench browser screenshots

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# The Smart Turn end-of-turn model (BSD-2-Clause) ships inside the pipecat-ai wheel; only the
	# file is used, so the wheel is installed without its (large) dependencies.
	$(BIN)/python -m pip install --quiet --no-deps "pipecat-ai==1.14.0"
	@touch $(STAMP)

# The tests hear the simulated callee in Piper's voice (an optional extra: GPL-3.0 runtime, voice
# data licence unsettled; docs/licenses.md), so Whisper is tested on speech it hears as a person's.
PIPER_STAMP := $(VENV)/.piper
$(PIPER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,piper]"
	@touch $(PIPER_STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/callwright demo --keep-serving

serve: $(STAMP)
	$(BIN)/callwright serve

lint: $(PIPER_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The dashboard's browser tests drive Debian's Chromium (never a browser a tool downloads). Installed
# here when missing and this user may install packages; otherwise those tests skip loudly (or fail
# under CI=true).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x "$(CHROMIUM)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  (export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)) \
	    || echo "WARNING: could not install chromium; the browser tests will skip (fail under CI=true)"; \
	fi

test: lint browser
	$(BIN)/python -m pytest -q

# The screenshots of docs/dashboard-tour.md: the browser tests write them as they go (CI=true: without
# Chromium this fails instead of skipping, so it never leaves the tour without pictures).
screenshots: $(PIPER_STAMP) browser
	CI=true CALLWRIGHT_SCREENSHOT_DIR=docs/images/dashboard $(BIN)/python -m pytest -q tests/browser

bench: $(STAMP)
	$(BIN)/python bench/api.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/capacity.py

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
