"""Airflow test set-up: a throw-away AIRFLOW_HOME whose metadata database lives in a PostgreSQL
cluster of the session's own (newsflow.dev.local_postgres, a Unix socket in AIRFLOW_HOME/postgres/run),
created and started by the `metadata_database` fixture and stopped when the session ends.

Airflow reads its configuration when it is first imported, so the environment is set here, when
pytest collects this folder and before any test module imports airflow. Nothing outside this
folder imports airflow, so other test areas are unaffected by these variables (they only name a
temporary folder). UNIT_TEST_MODE is deliberately not set: it loads Airflow's example DAGs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.dev.local_postgres import LocalPostgres
from tests.conftest import REPO

if "airflow.configuration" in sys.modules:  # pragma: no cover - a guard, not a behaviour
    raise RuntimeError("airflow was imported before tests/airflow/conftest.py could configure it")

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="newsflow-airflow-test-"))
AIRFLOW_HOME.chmod(0o755)  # as root the server runs as an unprivileged user, who must enter it
atexit.register(shutil.rmtree, AIRFLOW_HOME, True)
POSTGRES = LocalPostgres(AIRFLOW_HOME / "postgres")
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": POSTGRES.url("airflow"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
})
os.environ.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
DAGS = REPO / "dags"


@pytest.fixture(scope="session", autouse=True)
def metadata_database() -> Iterator[LocalPostgres]:
    """The session's PostgreSQL cluster (initdb and start: about 3 s), stopped by its PID at the end.
    Every Airflow of the session uses it: `dag.test()` the database `airflow`, the local Airflow of
    the browser test its own."""
    POSTGRES.up(("airflow",))
    try:
        yield POSTGRES
    finally:
        POSTGRES.down()


@pytest.fixture(scope="session")
def airflow_db(metadata_database: LocalPostgres) -> None:
    """A fresh metadata database for the session."""
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="session")
def dagbag() -> object:
    """The project's DAGs parsed as the dag-processor would (no database needed)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS))


@pytest.fixture
def es_connection(settings: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The `newsflow_elasticsearch` Airflow connection (as an AIRFLOW_CONN_ variable) pointing at
    the test's Elasticsearch and index prefix; NEWSFLOW_HOME is the test's home."""
    import json
    from urllib.parse import urlsplit

    url = urlsplit(settings.es_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("AIRFLOW_CONN_NEWSFLOW_ELASTICSEARCH", json.dumps({
        "conn_type": "http", "host": url.hostname, "port": url.port, "schema": url.scheme,
        "extra": {"index_prefix": settings.index_prefix},  # type: ignore[attr-defined]
    }))
    monkeypatch.setenv("NEWSFLOW_HOME", str(settings.home))  # type: ignore[attr-defined]
    monkeypatch.setenv("NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES", "true")  # feed servers on 127.0.0.1
    monkeypatch.delenv("NEWSFLOW_INDEX_PREFIX", raising=False)
    monkeypatch.delenv("NEWSFLOW_FEEDS_FILE", raising=False)
    yield settings

