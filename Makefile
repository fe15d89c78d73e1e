# `make run` and `make test` do all set-up: a .venv in this folder, the project installed into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast clean

run: $(STAMP)
	$(BIN)/qa index
	$(BIN)/qa ask "Why does Russia reject European troops in Ukraine?"

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow"

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .qa
