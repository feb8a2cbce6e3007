#!/usr/bin/env bash
# The README's test command (and CI's): install everything the tests need, then lint and run the
# whole suite. The tests start the local Elasticsearch themselves if it is not running, and stop it
# again at the end if they started it; likewise the PostgreSQL cluster of the Airflow tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
.venv/bin/newsflow stack install
if [ -f scripts/ensure-chromium.sh ]; then bash scripts/ensure-chromium.sh; fi
# Airflow's metadata database in the tests (and `newsflow airflow up`) is a PostgreSQL cluster of our own.
bash scripts/ensure-postgres.sh
# The Celery broker of the local cluster rig (newsflow/dev) is a redis-server of our own.
bash scripts/ensure-redis.sh
.venv/bin/ruff check .
# The layers (pyproject.toml [tool.importlinter]): nothing imports from a layer above its own.
.venv/bin/lint-imports --no-cache
# The runtime packages, strictly typed (pyproject.toml [tool.mypy]).
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
