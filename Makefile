# DampWatch. `make help` lists the targets; the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Packages from Debian that the product and its tests use (installed only where missing).
APT_PACKAGES := mosquitto mosquitto-clients openssl victoria-metrics chromium chromium-driver

.DEFAULT_GOAL := help

help: ## List the targets and what they do
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

system: ## Install the Debian packages DampWatch needs, where missing (needs root or sudo)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

$(BIN)/dampwatch: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test,embedded-broker]'
	@touch $@

# The dashboard's styles and scripts (GOV.UK Frontend with Arial); rebuilt only when an input is newer.
FRONTEND := dashboard/frontend
ASSETS := dashboard/static/dampwatch.css
$(ASSETS): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json $(FRONTEND)/dampwatch.scss \
		$(FRONTEND)/build.sh $(FRONTEND)/dampwatch-icon.svg $(FRONTEND)/charts.js
	sh $(FRONTEND)/build.sh

assets: $(ASSETS) ## Build the dashboard's CSS and copy GOV.UK Frontend's JS into dashboard/static (pinned; npm ci)

setup: system $(BIN)/dampwatch assets ## Set everything up: Debian packages, a virtual environment, DampWatch (pinned)

demo: setup ## Run the demo: a simulated estate of 50 homes ingested and scored, then the dashboard; data in ./var/
	$(BIN)/dampwatch demo

test: lint ## Run the checks (make lint), then the whole test suite (real Mosquitto, SQLite, PostgreSQL, SMTP, Chromium)
	$(BIN)/pytest

lint: setup ## Check the code: ruff, mypy (settings in pyproject.toml) and the layering rule of DESIGN.md
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q tests/test_layers.py

bench: setup ## Run the ingest throughput benchmark (prints rates, ratio and peak memory)
	$(BIN)/python bench/ingest_throughput.py

lock: ## Re-pin every dependency (writes constraints.txt from a fresh resolve)
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install -q '.[test,embedded-broker]'
	.lockenv/bin/pip freeze --exclude dampwatch | grep -v "^-e" | grep -v " @ " > constraints.txt
	rm -rf .lockenv

clean: ## Delete local data (./var) and caches; keeps the virtual environment
	rm -rf var .pytest_cache .ruff_cache build *.egg-info

.PHONY: help system assets setup demo test lint bench lock clean
