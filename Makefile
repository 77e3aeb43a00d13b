# Two entry points: `make run` (the whole system) and `make test`.
# Both create .venv on first use, so a fresh machine needs only Python 3.11 and make;
# `make test` also installs Debian's Chromium (as root) and axe-core from npm for the
# browser tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
AXE_CORE_VERSION := 4.11.1
# Two pytest-xdist workers, each with its own stores (tests/conftest.py); a module's tests
# stay on one worker, as the fault tests of a module share their redis-server ports.
# `make test PARALLEL=` runs in one process.
PARALLEL ?= -n 2 --dist loadfile
CATALOGUES := $(wildcard tessera/translations/*/LC_MESSAGES/messages.po)

.PHONY: run test test-fast lint bench simulate translations clean

# The environment reaches every process: `BOOKING_CHALLENGE=off make run` lets the demo
# book without the proof-of-work check of the booking pages and API (see README).
run: $(VENV)/.runtime translations
	$(BIN)/python -m tessera up --demo

test: $(VENV)/.dev $(VENV)/.browser translations
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PARALLEL)

# The everyday subset: no browser tests (nor their install), no slow tests.
test-fast: $(VENV)/.dev translations
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow and not browser"

lint: $(VENV)/.dev
	$(BIN)/ruff check .

simulate: $(VENV)/.runtime
	$(BIN)/python -m tessera simulate ../shared/scenarios/oss-reference.yaml --days 10

bench: $(VENV)/.dev
	$(BIN)/python -m bench.call_next

# Compiled catalogues are build products, not sources: made from the .po files.
translations: $(CATALOGUES:.po=.mo)

%.mo: %.po | $(VENV)/.runtime
	$(BIN)/pybabel -q compile -i $< -o $@ -l $(word 3,$(subst /, ,$<))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

# Browser tests use Debian's Chromium (Playwright never downloads a browser here)
# and axe-core from npm.
$(VENV)/.browser: | $(BIN)/python
	command -v chromium >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/node \
		axe-core@$(AXE_CORE_VERSION)
	touch $@

clean:
	rm -rf $(VENV) instance .pytest_cache
	find tessera/translations -name '*.mo' -delete
