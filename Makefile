# Every target sets up its own virtual environment first; nothing needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SIM_PORT ?= 8001
API_KEY ?= dev-key
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: venv lock run test test-unit test-functional test-e2e bench package lint typecheck tenant rotate-key clean

# Installs exactly the pinned versions of requirements-dev.lock (which holds requirements.lock's, what Lambda ships).
$(BIN)/.installed: requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<26.3"
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	touch $@

venv: $(BIN)/.installed

# After changing requirements.txt or requirements-dev.txt: pin again (newest versions that fit; needs the index).
PIP_COMPILE = $(BIN)/python -m piptools compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links
lock: venv
	$(PIP_COMPILE) --output-file requirements.lock requirements.txt
	$(PIP_COMPILE) --output-file requirements-dev.lock requirements-dev.txt

run: venv
	PORT=$(PORT) SIM_PORT=$(SIM_PORT) API_KEY=$(API_KEY) $(BIN)/python -m devstack.stack

test: venv lint typecheck
	$(BIN)/python -m pytest -n 2

test-unit: venv
	$(BIN)/python -m pytest tests/unit

test-functional: venv
	$(BIN)/python -m pytest tests/functional tests/contract

test-e2e: venv
	$(BIN)/python -m pytest tests/e2e

bench: venv
	$(BIN)/python -m bench.run

package: venv
	$(BIN)/python scripts/package.py

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy app.py chalicelib devstack

# Operators: make tenant NAME="Acme PBX" (prints the new tenant's id and API key, once). With TABLE_NAME set, in that
# table (AWS as your credentials and AWS_ENDPOINT_URL say); without, in the local stack `make run` serves on PORT.
ADMIN = $(if $(TABLE_NAME),$(BIN)/python -m chalicelib.admin,PORT=$(PORT) $(BIN)/python -m devstack.admin)
tenant: venv
	$(ADMIN) create-tenant --name "$(NAME)"

# Operators: make rotate-key TENANT=tn_... (the old key stops working at once); TABLE_NAME as for make tenant.
rotate-key: venv
	$(ADMIN) rotate-key --tenant "$(TENANT)"

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache .local-stack
