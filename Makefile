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
# The My Number vault key (privacy.md P1): in production an Airflow connection or a secret; for the
# demo a random key generated once into var/ (git-ignored). VAXREG_VAULT_KEY, when set, wins.
export VAXREG_VAULT_KEY_FILE ?= $(VAXREG_HOME)/vault.key

DEMO_PERSONS ?= 20000
DEMO_SEED ?= 20260401
DEMO_DATE ?= 2026-04-08
BENCH_PERSONS ?= 200000
BENCH_CLINIC_PERSONS ?= 1000000
BENCH_CLINIC_ROWS ?= 200000
BENCH_MATCH_PERSONS ?= 1000000
BENCH_MATCH_RECORDS ?= 100000
BENCH_MATCH_SEED ?= 20261127
BENCH_REFRESH_PERSONS ?= 1000000
BENCH_REFRESH_DOSES ?= 20
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: help install airflow-db browser demo test stack-test airflow bench lint clean
.PHONY: bench-match bench-refresh

help:
	@echo "make demo     set up, generate a municipality, run every DAG with 'airflow dags test', print a summary"
	@echo "make test     set up and run the whole test suite (needs PostgreSQL on 127.0.0.1:5432)"
	@echo "make stack-test  only the Celery stack test (also in make test): five Airflow processes, Redis, PostgreSQL"
	@echo "make airflow  start the Airflow UI on :8080 (airflow standalone, parallelism $(AIRFLOW__CORE__PARALLELISM))"
	@echo "make bench    benchmarks beside a bare COPY in the same run: resident feed (BENCH_PERSONS=$(BENCH_PERSONS), also"
	@echo "              beside pandas.to_sql), VRS import (BENCH_PERSONS persons) and clinic records"
	@echo "              (BENCH_CLINIC_ROWS rows against BENCH_CLINIC_PERSONS persons)"
	@echo "make bench-refresh  due-doses refresh and forms/reminders publications on BENCH_REFRESH_PERSONS=$(BENCH_REFRESH_PERSONS)"
	@echo "              persons with about $(BENCH_REFRESH_DOSES) doses each, beside a plain SQL GROUP BY (PostgreSQL)"
	@echo "make bench-match  identity matcher beside Splink 5 (DuckDB) on generated other-ward records:"
	@echo "              precision, recall, F1, review rate, records/s, peak RSS (BENCH_MATCH_RECORDS=$(BENCH_MATCH_RECORDS)"
	@echo "              records against BENCH_MATCH_PERSONS=$(BENCH_MATCH_PERSONS) persons; installs the [bench] extra)"
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

$(VAXREG_VAULT_KEY_FILE): | install
	@mkdir -p $(dir $@)
	@umask 077 && $(BIN)/vaxreg vault generate-key > $@.tmp && mv $@.tmp $@
	@echo "generated a demo vault key in $@"

demo: airflow-db $(VAXREG_VAULT_KEY_FILE)
	rm -rf $(VAXREG_HOME)/data $(VAXREG_HOME)/landing $(VAXREG_HOME)/staging $(VAXREG_HOME)/retention
	$(BIN)/vaxreg db upgrade
	$(BIN)/vaxreg synth --out $(VAXREG_HOME)/landing --persons $(DEMO_PERSONS) --seed $(DEMO_SEED) > /dev/null
	VAXREG_SOURCE_URL=file://$(VAXREG_HOME)/landing $(BIN)/python -m vaxreg_devtools.demo --date $(DEMO_DATE)
	$(BIN)/vaxreg audit verify
	$(BIN)/vaxreg purge --dry-run --as-of $(DEMO_DATE)

# Browser tests drive Debian's chromium with Playwright (never a downloaded browser).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium > /dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium > /dev/null)

browser: $(CHROMIUM)

test: airflow-db browser
	$(BIN)/pytest

# Only the Celery stack test (also part of `make test`): api-server, scheduler, dag-processor,
# triggerer and a Celery worker on the machine's Redis (db 13) and PostgreSQL; logs in var/stack-test/.
stack-test: install
	$(BIN)/pytest tests/stack -q

# The DAGs run on Asia/Tokyo: so do the UI's times and naive dates (docker-compose.yaml sets it too).
airflow demo: export AIRFLOW__CORE__DEFAULT_TIMEZONE = Asia/Tokyo
airflow: airflow-db $(VAXREG_VAULT_KEY_FILE)
	$(BIN)/airflow dags reserialize > /dev/null
	VAXREG_SOURCE_URL=$${VAXREG_SOURCE_URL:-file://$(VAXREG_HOME)/landing} $(BIN)/airflow standalone

bench: install
	$(BIN)/python -m vaxreg_devtools.bench --persons $(BENCH_PERSONS)
	$(BIN)/python -m vaxreg_devtools.bench_vrs --persons $(BENCH_PERSONS)
	$(BIN)/python -m vaxreg_devtools.bench_clinic --persons $(BENCH_CLINIC_PERSONS) --rows $(BENCH_CLINIC_ROWS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(BENCH_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	touch $@

bench-refresh: install
	$(BIN)/python -m vaxreg_devtools.bench_refresh --persons $(BENCH_REFRESH_PERSONS) \
		--doses-per-person $(BENCH_REFRESH_DOSES)

bench-match: $(BENCH_STAMP)
	$(BIN)/python -m vaxreg_devtools.bench_match --persons $(BENCH_MATCH_PERSONS) --records $(BENCH_MATCH_RECORDS) \
		--seed $(BENCH_MATCH_SEED)

clean:
	rm -rf var
