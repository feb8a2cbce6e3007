"""Settings for code that runs inside Airflow: Elasticsearch from an Airflow connection, the rest
from the environment.

The connection (default id `newsflow_elasticsearch`, type `generic` or `http`) holds:

    host        es.example.com (or a full URL, https://es.example.com:9243)
    port        9200
    schema      http or https (default http)
    login       user name for basic auth (optional)
    password    password for basic auth (optional)
    extra       {"api_key": "...", "ca_certs": "/path/ca.pem", "verify_certs": true,
                 "index_prefix": "news"}

When no such connection exists, `newsflow.core.settings.load_settings()` is used as is (NEWSFLOW_ES_URL
and friends). Secrets stay in `SecretStr` / the redacted URL; nothing here logs them.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from newsflow.core.errors import ConfigError
from newsflow.core.settings import Settings, load_settings

DEFAULT_CONN_ID = "newsflow_elasticsearch"

log = logging.getLogger(__name__)


class ConnectionLike(Protocol):
    """The fields of an Airflow connection this module reads (airflow.sdk.Connection has them)."""

    conn_id: str
    host: str | None
    port: int | None
    schema: str | None
    login: str | None
    password: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def settings_from_airflow(conn_id: str = DEFAULT_CONN_ID, **overrides: Any) -> Settings:
    """Settings whose Elasticsearch part comes from the Airflow connection `conn_id` when it exists,
    otherwise from the environment. Keyword arguments win over both."""
    connection = find_connection(conn_id)
    if connection is None:
        return load_settings(**overrides)
    settings = load_settings(**{**connection_overrides(connection), **overrides})
    log.info("Elasticsearch from Airflow connection %r: %s (index prefix %s)",
             conn_id, settings.es_url_redacted, settings.index_prefix)
    return settings


def find_connection(conn_id: str) -> ConnectionLike | None:
    """The Airflow connection `conn_id`, or None when Airflow is absent or does not define it."""
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    try:
        connection: ConnectionLike = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    return connection


def connection_overrides(connection: ConnectionLike) -> dict[str, Any]:
    """Settings keyword arguments from a connection's fields (pure: no lookup, no I/O)."""
    values: dict[str, Any] = {"es_url": _es_url(connection)}
    extra = connection.extra_dejson or {}
    unknown = set(extra) - {"api_key", "ca_certs", "verify_certs", "index_prefix"}
    if unknown:
        raise ConfigError(
            f"Airflow connection {connection.conn_id!r}: unknown extra field(s) {sorted(unknown)}; "
            "allowed: api_key, ca_certs, verify_certs, index_prefix"
        )
    if extra.get("api_key"):
        values["es_api_key"] = str(extra["api_key"])
    if extra.get("ca_certs"):
        values["es_ca_certs"] = str(extra["ca_certs"])
    if "verify_certs" in extra:
        values["es_verify_certs"] = _as_bool(extra["verify_certs"], connection.conn_id)
    if extra.get("index_prefix"):
        values["index_prefix"] = str(extra["index_prefix"])
    return values


def _es_url(connection: ConnectionLike) -> str:
    host = (connection.host or "").strip()
    if not host:
        raise ConfigError(
            f"Airflow connection {connection.conn_id!r} has no host: set it to the Elasticsearch "
            "host name (e.g. 127.0.0.1) or URL"
        )
    scheme = (connection.schema or "").strip().lower() or "http"
    port = connection.port
    if "://" in host:  # a whole URL in the host field
        parts = urlsplit(host)
        scheme, host, port = parts.scheme, parts.hostname or "", parts.port or port
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"Airflow connection {connection.conn_id!r}: schema {scheme!r} is not http or https"
        )
    credentials = ""
    if connection.login:
        credentials = quote(connection.login, safe="")
        if connection.password:
            credentials += ":" + quote(connection.password, safe="")
        credentials += "@"
    host_part = f"[{host}]" if ":" in host else host  # IPv6 literal
    return f"{scheme}://{credentials}{host_part}:{port or 9200}"


def _as_bool(value: object, conn_id: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"Airflow connection {conn_id!r}: verify_certs={value!r} is not true or false")
