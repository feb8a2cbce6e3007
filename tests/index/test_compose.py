"""docker-compose.yml for a user's machine (Docker is not available here, so its structure is checked):
the services, matching Elastic image versions, security on with secrets from .env, health checks,
ports on loopback only, and Airflow 3 built from the lock files with the DAGs mounted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
ONE_SHOT = {"setup", "airflow-init", "kibana-objects"}
AIRFLOW = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


def test_the_stack_has_elasticsearch_kibana_postgres_and_the_airflow_3_components() -> None:
    assert {"es01", "kibana", "postgres", *AIRFLOW} <= set(SERVICES)
    commands = {name: " ".join(SERVICES[name]["command"]) for name in AIRFLOW}
    assert commands["airflow-apiserver"].startswith("airflow api-server")
    assert commands["airflow-scheduler"] == "airflow scheduler"
    assert commands["airflow-dag-processor"] == "airflow dag-processor"
    assert commands["airflow-triggerer"] == "airflow triggerer"


def test_elasticsearch_and_kibana_run_the_same_8x_version() -> None:
    images = {name: SERVICES[name]["image"] for name in ("es01", "kibana", "setup")}
    assert images["es01"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert images["kibana"].startswith("docker.elastic.co/kibana/kibana:")
    versions = {image.split(":", 1)[1] for image in images.values()}
    assert versions == {"${STACK_VERSION:-8.12.2}"}
    assert re.search(r"^STACK_VERSION=8\.\d+\.\d+$", _env_example(), re.MULTILINE)


def test_security_is_on_with_tls_and_passwords_from_the_env_file() -> None:
    es = SERVICES["es01"]["environment"]
    assert es["xpack.security.enabled"] == "true"
    assert es["xpack.security.http.ssl.enabled"] == "true"
    assert es["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD")
    assert SERVICES["kibana"]["environment"]["ELASTICSEARCH_PASSWORD"].startswith("${KIBANA_PASSWORD")
    referenced = set(re.findall(r"\$\{([A-Z_]+)", (REPO / "docker-compose.yml").read_text()))
    defined = set(re.findall(r"^([A-Z_]+)=", _env_example(), re.MULTILINE))
    assert referenced <= defined, f"not in .env.example: {referenced - defined}"


def test_long_running_services_have_health_checks() -> None:
    for name, service in SERVICES.items():
        if name not in ONE_SHOT - {"setup"}:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_published_port_is_on_loopback(name: str) -> None:
    for port in SERVICES[name].get("ports", []):
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_airflow_is_built_from_the_lock_files_with_the_dags_mounted() -> None:
    for name in AIRFLOW | {"airflow-init"}:
        service = SERVICES[name]
        assert service["build"]["dockerfile"] == "docker/airflow.Dockerfile"
        assert "./dags:/opt/newsflow/dags:ro" in service["volumes"]
        assert service["environment"]["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/newsflow/dags"
        assert service["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert "AIRFLOW_CONN_NEWSFLOW_ELASTICSEARCH" in service["environment"]
    dockerfile = (REPO / "docker" / "airflow.Dockerfile").read_text()
    for lock in ("uv.txt", "lock.txt", "model.txt"):
        assert re.search(rf"--require-hashes [^\n]*-r requirements/{lock}", dockerfile), lock
    assert SERVICES["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"] == (
        "service_completed_successfully")


def test_the_elasticsearch_connection_for_airflow_uses_https_and_the_ca() -> None:
    import json

    raw = SERVICES["airflow-scheduler"]["environment"]["AIRFLOW_CONN_NEWSFLOW_ELASTICSEARCH"]
    connection = json.loads(raw.replace("${NEWSFLOW_ES_PASSWORD:?set NEWSFLOW_ES_PASSWORD in .env}", "x"))
    assert connection["schema"] == "https" and connection["extra"]["ca_certs"] == "/certs/ca/ca.crt"


def test_the_docs_explain_how_to_run_it() -> None:
    docs = (REPO / "docs" / "docker.md").read_text(encoding="utf-8")
    assert "cp .env.example .env" in docs and "docker compose up" in docs


def _env_example() -> str:
    return Path(REPO / ".env.example").read_text(encoding="utf-8")
