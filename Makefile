# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean hubspot-app-deps hubspot-app-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The HubSpot project's Node tooling (hubspot-app/package-lock.json), installed once per
# lockfile change: HubSpot's project parser, TypeScript, the card's test renderer.
APP_DIR := hubspot-app
APP_STAMP := $(APP_DIR)/node_modules/.installed

$(APP_STAMP): $(APP_DIR)/package.json $(APP_DIR)/package-lock.json
	npm ci --prefix $(APP_DIR)
	touch $(APP_STAMP)

hubspot-app-deps: $(APP_STAMP)

# tsc --noEmit over the card and its tests, then the card's render tests
hubspot-app-test: $(APP_STAMP)
	npm test --prefix $(APP_DIR)

demo: $(STAMP)
	$(BIN)/connector demo

test: $(STAMP) $(APP_STAMP)
	$(BIN)/ruff check connector tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy
	npm test --prefix $(APP_DIR)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/score_throughput.py
	$(BIN)/python benchmarks/sync_floor.py --contacts 10000

clean:
	rm -rf $(VENV) connector.db .pytest_cache .mypy_cache .ruff_cache $(APP_DIR)/node_modules
