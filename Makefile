# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

# pytest-xdist workers for `make test`: one per CPU core by default, each
# with its own PostgreSQL test database and Redis database (see
# prm/test_settings.py). PYTEST_WORKERS=0 runs the suite in one process.
# worksteal: an idle worker takes queued tests from a busy one (test
# durations range from milliseconds to a minute).
PYTEST_WORKERS ?= auto

.PHONY: run test setup venv services migrate seed lint format lock clean bench-dealreg bench-payouts \
	bench-load bench-reporting bench-tiers backup restore

run: setup migrate seed
	scripts/run_all.sh

test: setup
	scripts/ensure_chromium.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --config-file mypy.ini
	$(PY) manage.py makemigrations --check --dry-run --settings=prm.test_settings >/dev/null \
		|| (echo "Models changed without a migration: run manage.py makemigrations." >&2; exit 1)
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

setup: venv services

venv:
	scripts/bootstrap.sh

services: venv
	scripts/ensure_services.sh

migrate:
	$(PY) manage.py migrate --noinput

seed:
	$(PY) manage.py seed_demo

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --config-file mypy.ini

format:
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Re-pin dependencies after editing pyproject.toml.
LOCK := $(VENV)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links
lock: venv
	$(LOCK) -o requirements.lock pyproject.toml
	$(LOCK) --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles .run

# Backups (README, "Backups and restore"): `make backup` dumps the database
# the PRM_DB_* settings point at into PRM_BACKUP_DIR (default backups/);
# `make restore DUMP=backups/<file>.dump [DB=name] [REPLACE=1]` restores one
# into a new database (default <PRM_DB_NAME>_restored) and checks it.
backup:
	scripts/backup.sh

restore:
	@test -n "$(DUMP)" || { echo "usage: make restore DUMP=backups/<file>.dump [DB=name] [REPLACE=1]" >&2; exit 2; }
	scripts/restore.sh $(if $(REPLACE),--replace) "$(DUMP)" $(if $(DB),"$(DB)")

# Benchmarks (not part of `make test`): each seeds its own database.
BENCH_DB := prm_bench
bench-dealreg: setup
	PRM_DB_NAME=$(BENCH_DB) scripts/ensure_services.sh
	PRM_DB_NAME=$(BENCH_DB) $(PY) manage.py migrate --noinput -v0
	PRM_DB_NAME=$(BENCH_DB) PRM_LOG_LEVEL=WARNING $(PY) manage.py bench_dealreg --settings=bench.settings $(BENCH_ARGS)

BENCH_PAYOUTS_DB := prm_bench_payouts
bench-payouts: setup
	PRM_DB_NAME=$(BENCH_PAYOUTS_DB) scripts/ensure_services.sh
	PRM_DB_NAME=$(BENCH_PAYOUTS_DB) $(PY) manage.py migrate --noinput -v0
	PRM_DB_NAME=$(BENCH_PAYOUTS_DB) PRM_LOG_LEVEL=WARNING $(PY) manage.py bench_payouts --settings=bench.settings $(BENCH_ARGS)

# The reporting dashboards over one tenant with 5,000 partners, 1,000,000
# registrations and ~5,000,000 ledger entries (BENCH_PARTNERS,
# BENCH_REGISTRATIONS, BENCH_ENTRIES scale it down; a seed of the same size
# is kept, BENCH_ARGS=--fresh seeds again).
BENCH_REPORTING_DB := prm_bench_reporting
bench-reporting: setup
	PRM_DB_NAME=$(BENCH_REPORTING_DB) scripts/ensure_services.sh
	PRM_DB_NAME=$(BENCH_REPORTING_DB) $(PY) manage.py migrate --noinput -v0
	PRM_DB_NAME=$(BENCH_REPORTING_DB) PRM_LOG_LEVEL=WARNING $(PY) manage.py bench_reporting --settings=bench.settings $(BENCH_ARGS)

# Tier qualification over one tenant with 5,000 partners, 1,000,000
# registrations and 50,000 certification records (a seed of the same size is
# kept; BENCH_ARGS=--rebuild seeds again; BENCH_PARTNERS, BENCH_REGISTRATIONS,
# BENCH_RECORDS scale it down).
BENCH_TIERS_DB := prm_bench_tiers
bench-tiers: setup
	PRM_DB_NAME=$(BENCH_TIERS_DB) scripts/ensure_services.sh
	PRM_DB_NAME=$(BENCH_TIERS_DB) $(PY) manage.py migrate --noinput -v0
	PRM_DB_NAME=$(BENCH_TIERS_DB) PRM_LOG_LEVEL=WARNING $(PY) manage.py bench_tiers --settings=bench.settings $(BENCH_ARGS)

# The whole system (gunicorn, Celery worker and beat, a private Redis of its
# own) under a Locust load: a step search, a calm run and a run through a
# Redis restart and a worker kill (BENCH_DURATION seconds each, 300).
BENCH_LOAD_DB := prm_bench_load
bench-load: setup
	PRM_DB_NAME=$(BENCH_LOAD_DB) scripts/ensure_services.sh
	PRM_DB_NAME=$(BENCH_LOAD_DB) $(PY) manage.py migrate --noinput -v0
	PRM_DB_NAME=$(BENCH_LOAD_DB) PRM_LOG_LEVEL=WARNING $(PY) manage.py bench_load --settings=bench.settings $(BENCH_ARGS)
