#!/usr/bin/env bash
# The README's run command: install everything (first time only), start the local Elasticsearch,
# run one full cycle over the bundled sample feeds, and show an example search.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
.venv/bin/newsflow stack up
echo
echo "== newsflow run --feeds samples/feeds.yaml"
.venv/bin/newsflow run --feeds samples/feeds.yaml
echo
echo "== newsflow search 'central bank' --size 5   (an example search, with facets)"
.venv/bin/newsflow search 'central bank' --size 5
echo
echo "Elasticsearch keeps running on http://127.0.0.1:9200; stop it with: .venv/bin/newsflow stack down"
