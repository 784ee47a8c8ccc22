# shopaug: `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test quick lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch is pinned in pyproject; installing it first keeps pip on the local CPU wheel.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev,lm,search,serve,synth,scale,track]'
	$(BIN)/python -m shopaug.search._wordnet
	@# the UI test drives Debian's Chromium (never 'playwright install'); root can add it
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "note: no chromium; the UI test needs 'apt-get install -y chromium'"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopaug demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -m "not slow"

quick: $(STAMP)
	$(BIN)/shopaug demo --quick

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/rec_accuracy.py

clean:
	rm -rf $(VENV) runs build *.egg-info
