#!/usr/bin/env bash
# The README's test command (and CI's): install everything the tests need, then lint and run the
# whole suite. The tests start the local Elasticsearch themselves if it is not running, and stop it
# again at the end if they started it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
.venv/bin/newsflow stack install
if [ -f scripts/ensure-chromium.sh ]; then bash scripts/ensure-chromium.sh; fi
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
