# The two commands of the README: `make synth` and `make test`. Everything they need comes from
# this repository's own files (pyproject.toml, package.json + package-lock.json).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# checkov lives in a virtualenv of its own (pinned in requirements-checkov.txt): its many
# dependencies never mix with the package's.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CDK := node_modules/.bin/cdk
# `make local` runs app.py's synthesized template; with no ARGS it adds the demo assemblies so
# there is something to watch (the built-in webhook inbox is always on).
LOCAL_ARGS ?= --demo

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: setup synth test lint local bench clean

setup: $(PY_STAMP) $(NODE_STAMP) $(CHECKOV_STAMP)

$(PY_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: setup
	$(CDK) synth --quiet --output cdk.out
	@echo "Synthesized into cdk.out/"

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

local: synth
	@echo "Starting local mode on app.py's template (Ctrl-C stops it). Options: make local ARGS=\"--port 9000 ...\""
	$(VENV)/bin/transflow-status local --app cdk.out --inbox $(if $(ARGS),$(ARGS),$(LOCAL_ARGS))

bench: setup
	@$(PY) benchmarks/run.py $(ARGS)

clean:
	rm -rf cdk.out cdk.out.* .pytest_cache build dist *.egg-info
