# Two commands matter: `make run` (the main job on the local workspace) and `make test`.
# Both create .venv on first use and install the package with every extra in ONE pip resolve:
# installing [pipelines] later into an existing environment is what breaks joblib (see README).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SRC    := src tests steps pipelines bench tools

.PHONY: run test lint format bench clean postgresql

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,pipelines,mlflow,plot,serve,onnx,v2,team,testing,docs]'
	$(BIN)/python -m pip check
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python pipelines/iris.py
	$(BIN)/champion models history iris

# The layers (README "How the code is laid out"): import-linter's contracts in pyproject.toml,
# and the two rules it cannot see (the environment read only in _env.py; no ._store outside
# local/) in tools/check_env_reads.py.
lint: $(STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/check_env_reads.py

# The MLflow-on-PostgreSQL tests start their own cluster from the system's PostgreSQL server
# binaries: installed here when missing (as root: apt-get; else it says how).
postgresql:
	sh tools/install_postgresql.sh

test: lint postgresql
	$(BIN)/python -m pytest -q

format: $(STAMP)
	$(BIN)/ruff check --fix $(SRC)
	$(BIN)/ruff format $(SRC)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(PEER),--peer $(PEER)) $(if $(README),--readme)

clean:
	rm -rf $(VENV) .champion .pytest_cache .mypy_cache .ruff_cache
