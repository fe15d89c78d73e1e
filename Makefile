# `make run` and `make test` do all set-up: a .venv in this folder, the project installed into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast ask clean

# the web chat on http://127.0.0.1:7860, after updating the index from seeds/
run: $(STAMP)
	$(BIN)/qa serve

# the seed question answered in the terminal
ask: $(STAMP)
	$(BIN)/qa index
	$(BIN)/qa ask "Why does Russia reject European troops in Ukraine?"

test: $(STAMP) /usr/bin/chromium
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# the browser tests drive Debian's Chromium (Playwright's own browser download is not used)
/usr/bin/chromium:
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  || (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow"

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .qa
