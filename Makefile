# Each target installs what it needs into .venv (created from the system python3).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: quick test venv clean

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,dask]"
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

## The main job: the quick benchmark suite (resumable), its report table and figures.
quick: $(STAMP)
	$(BIN)/cdibench run quick -o results/quick

## The test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) results
