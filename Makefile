# The two commands of the README: `make run` and `make test`. Each installs what it needs first.
.PHONY: run test setup bench lint stack-up stack-down

run:  ## install, start Elasticsearch, run one cycle over the sample feeds, show a search
	bash scripts/run.sh

test:  ## install, lint, and run the whole test suite (starts and stops Elasticsearch itself)
	bash scripts/test.sh

setup:  ## only install the Python environment (.venv) and Elasticsearch
	bash scripts/bootstrap.sh && .venv/bin/newsflow stack install

bench:  ## the end-to-end benchmark (prints and writes a JSON report)
	bash scripts/bootstrap.sh && .venv/bin/newsflow bench

lint:
	.venv/bin/ruff check .

stack-up:
	.venv/bin/newsflow stack up

stack-down:
	.venv/bin/newsflow stack down
