# Two commands matter: `make run` (the main job on the local workspace) and `make test`.
# Both create .venv on first use and install the package with every extra in ONE pip resolve:
# installing [pipelines] later into an existing environment is what breaks joblib (docs/how-to/install.md).

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

# The layers (docs/explanation/code-layout.md): import-linter's contracts in pyproject.toml,
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

# pytest on every core (pytest-xdist; PYTEST_WORKERS=0 runs it in one process). Tests that share
# a session's mlflow server, or a module's fixture, stay on one worker: tests/suite_rules.py.
PYTEST_WORKERS ?= auto

test: lint postgresql
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --durations=20

# The edit-test loop, under a minute: the unit, contract, decision and backend tests that run in
# pytest's own process (no subprocess, no server; a fast test that starts one fails).
.PHONY: test-fast
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --fast

format: $(STAMP)
	$(BIN)/ruff check --fix $(SRC)
	$(BIN)/ruff format $(SRC)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(PEER),--peer $(PEER)) $(if $(README),--readme)

clean:
	rm -rf $(VENV) .champion .pytest_cache .mypy_cache .ruff_cache build dist site

# The documentation site (mkdocs.yml, docs/) into site/; `.venv/bin/mkdocs serve` to browse it.
# The sdist and the wheel into dist/ (`python -m build`), checked as the package index checks them.
# `make test` runs both after lint, before the tests: a broken link, a missing page, a docstring
# mkdocstrings cannot read or metadata the index would refuse fails the build.
.PHONY: docs dist
test: docs dist

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	rm -rf build src/champion.egg-info
	$(BIN)/python -m twine check --strict dist/*
