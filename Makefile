# vaxreg — two commands from a fresh clone: `make demo`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# airflow standalone starts its components as `airflow …` subprocesses: the venv comes first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# Everything a run writes lives under var/ (git-ignored).
export VAXREG_HOME ?= $(CURDIR)/var
export AIRFLOW_HOME ?= $(CURDIR)/var/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION := True
export AIRFLOW__CORE__PARALLELISM ?= 4
export AIRFLOW__LOGGING__LOGGING_LEVEL ?= INFO
export GX_ANALYTICS_ENABLED := False
export PYTHONWARNINGS ?= ignore::DeprecationWarning

DEMO_PERSONS ?= 20000
DEMO_SEED ?= 20260401
DEMO_DATE ?= 2026-04-08
BENCH_PERSONS ?= 200000

.PHONY: help install airflow-db demo test airflow bench lint clean

help:
	@echo "make demo     set up, generate a municipality, run every DAG with 'airflow dags test', print a summary"
	@echo "make test     set up and run the whole test suite (needs PostgreSQL on 127.0.0.1:5432)"
	@echo "make airflow  start the Airflow UI on :8080 (airflow standalone, parallelism $(AIRFLOW__CORE__PARALLELISM))"
	@echo "make bench    benchmark the resident feed (BENCH_PERSONS=$(BENCH_PERSONS)) beside COPY and pandas.to_sql"
	@echo "make lint     ruff and mypy"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)

airflow-db: install
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1)

demo: airflow-db
	rm -rf $(VAXREG_HOME)/data $(VAXREG_HOME)/landing $(VAXREG_HOME)/staging
	$(BIN)/vaxreg db upgrade
	$(BIN)/vaxreg synth --out $(VAXREG_HOME)/landing --persons $(DEMO_PERSONS) --seed $(DEMO_SEED) > /dev/null
	VAXREG_SOURCE_URL=file://$(VAXREG_HOME)/landing $(BIN)/python -m vaxreg.demo --date $(DEMO_DATE)

test: airflow-db
	$(BIN)/pytest

airflow: airflow-db
	$(BIN)/airflow dags reserialize > /dev/null
	VAXREG_SOURCE_URL=$${VAXREG_SOURCE_URL:-file://$(VAXREG_HOME)/landing} $(BIN)/airflow standalone

bench: install
	$(BIN)/python -m vaxreg.bench --persons $(BENCH_PERSONS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf var
