# Two commands do everything on a fresh machine (Linux or macOS, Python 3.11):
#   make        create .venv (pinned), register the "ecglib" Jupyter kernel, run every study's smoke profile
#   make test   the test suite (what CI runs)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all setup smoke test lint benchmark lab clean-outputs

all: smoke

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -c "import ecglib.runner as r; print('kernel:', r.install_kernel())"
	-git config filter.ecglib-notebook.clean "$(abspath $(BIN))/python -m ecglib.notebooks"  # see .gitattributes
	touch $(STAMP)

smoke: setup
	$(BIN)/ecglib run all --profile smoke

test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check ecglib tests benchmarks notebooks
	$(BIN)/ruff format --check ecglib tests benchmarks notebooks

benchmark: setup
	$(BIN)/python benchmarks/smoke_runs.py

# JupyterLab rooted at the repository (so executed reports under outputs/ open too), showing notebooks/ first.
lab: setup
	$(BIN)/python -m pip install --quiet jupyterlab==4.6.6 -c requirements.txt  # optional UI; the pins stay as they are
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks

clean-outputs:
	rm -rf outputs/*/
