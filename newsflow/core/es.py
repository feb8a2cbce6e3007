"""The Elasticsearch client, built from settings, and the translation of its errors.

Every module that talks to Elasticsearch gets its client from `make_client` and wraps calls in
`translate_errors()`, so callers see newsflow's own exceptions (ElasticsearchUnavailable, and its kind
ElasticsearchOverloaded for 429/502/503/504, QueryError, IndexError_) rather than the client's.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any

import elastic_transport
import elasticsearch
import orjson
from elasticsearch import Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from newsflow.core.errors import (
    ElasticsearchOverloaded,
    ElasticsearchUnavailable,
    IndexError_,
    IndexNotFound,
    QueryError,
)
from newsflow.core.settings import Settings


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """Bulk bodies (NDJSON) encoded with orjson rather than the standard library's json.

    A cycle sends tens of thousands of small documents (articles, alert records); encoding them
    with json took about a fifth of the parent process's time when 10,000 rules raised 79,000
    alerts. The client ships an orjson serializer for JSON bodies only."""

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


# Busy or briefly unavailable rather than refusing the request: a caller may try again later (the
# client has retried these twice already).
OVERLOADED_STATUSES = frozenset({429, 502, 503, 504})


def make_client(settings: Settings, **options: Any) -> Elasticsearch:
    """A client for NEWSFLOW_ES_URL with the configured credentials and TLS verification."""
    kwargs: dict[str, Any] = {
        "request_timeout": settings.index.request_timeout,
        "retry_on_timeout": True,
        "max_retries": 2,
        "verify_certs": settings.es_verify_certs,
        "serializers": {OrjsonSerializer.mimetype: OrjsonSerializer(),
                        OrjsonNdjsonSerializer.mimetype: OrjsonNdjsonSerializer()},
    }
    if settings.es_api_key is not None:
        kwargs["api_key"] = settings.es_api_key.get_secret_value()
    if settings.es_ca_certs is not None:
        kwargs["ca_certs"] = str(settings.es_ca_certs)
    kwargs.update(options)
    return Elasticsearch(settings.es_url, **kwargs)


@contextlib.contextmanager
def translate_errors(url: str, query: str | None = None) -> Iterator[None]:
    """Turn the client's exceptions into newsflow's, keeping the original as the cause."""
    try:
        yield
    except elastic_transport.TlsError as exc:
        raise ElasticsearchUnavailable(
            url, f"TLS failed ({_tls_reason(exc)}); if the certificate is signed by a private CA, set "
            "NEWSFLOW_ES_CA_CERTS to that CA's certificate file",
        ) from exc
    except (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout) as exc:
        raise ElasticsearchUnavailable(url, type(exc).__name__) from exc
    except elasticsearch.BadRequestError as exc:
        if query is not None:
            raise QueryError(query, _reason(exc)) from exc
        raise IndexError_(f"Elasticsearch rejected the request: {_reason(exc)}",
                          status=exc.meta.status, error_type=error_type(exc)) from exc
    except elasticsearch.ApiError as exc:
        kind = error_type(exc)
        if kind == IndexNotFound.error_type:
            raise IndexNotFound(_missing_index(exc), url) from exc
        if exc.meta.status in OVERLOADED_STATUSES:
            raise ElasticsearchOverloaded(url, exc.meta.status, _reason(exc)) from exc
        raise IndexError_(f"Elasticsearch error {exc.meta.status}: {_reason(exc)}",
                          status=exc.meta.status, error_type=kind) from exc
    except elastic_transport.TransportError as exc:  # an answer that cannot be read (SerializationError)
        raise IndexError_(
            f"the answer of {url} could not be read ({type(exc).__name__}: {exc}); check that "
            "NEWSFLOW_ES_URL points at Elasticsearch itself, not a proxy or another service") from exc


# Replicas resolved for "auto", by cluster URL: asked once per process (the count of data nodes
# does not change the replicas of indices already created, and a node down for a minute must not
# make the next index unreplicated).
_auto_replicas: dict[str, int] = {}
_auto_lock = threading.Lock()


def number_of_replicas(settings: Settings, client: Elasticsearch) -> int:
    """The `number_of_replicas` of a new index: `index.replicas` when it is a number; for "auto",
    min(1, data nodes - 1), from the cluster's node roles (asked once per cluster URL)."""
    configured = settings.index.replicas
    if isinstance(configured, int):
        return configured
    with _auto_lock:
        known = _auto_replicas.get(settings.es_url)
        if known is not None:
            return known
        try:
            with translate_errors(settings.es_url_redacted):
                answer = client.nodes.info(filter_path="nodes.*.roles")
        except IndexError_ as exc:
            if exc.status not in (401, 403):
                raise
            raise IndexError_(
                f"index.replicas is 'auto' but the credentials may not list the cluster's nodes ({exc}): "
                "grant the cluster privilege 'monitor' or set NEWSFLOW_INDEX__REPLICAS to a number "
                "(1 on a cluster, 0 on a single node)", status=exc.status,
                error_type=exc.error_type) from exc
        nodes = dict(answer).get("nodes", {})
        data_nodes = sum(1 for node in nodes.values() if is_data_node(node.get("roles", ())))
        resolved = auto_replicas(data_nodes)
        _auto_replicas[settings.es_url] = resolved
        return resolved


def auto_replicas(data_nodes: int) -> int:
    """One replica when another data node can hold it, else none (a replica that no node may
    hold leaves the cluster yellow for ever)."""
    return max(0, min(1, data_nodes - 1))


def is_data_node(roles: Any) -> bool:
    """Whether a node with these roles holds shards ("data", or a tier such as "data_hot")."""
    return any(str(role) == "data" or str(role).startswith("data_") for role in roles)


def create_index(client: Elasticsearch, *, index: str, **body: Any) -> bool:
    """Create an index; False when it exists already (another process created it first, which is
    success). Any other refusal raises, like every call, as the client's error: wrap the call in
    `translate_errors`."""
    try:
        client.indices.create(index=index, **body)
    except elasticsearch.BadRequestError as exc:
        if error_type(exc) == "resource_already_exists_exception":
            return False
        raise
    return True


def error_type(exc: elasticsearch.ApiError) -> str:
    """The type of the error in Elasticsearch's answer (`body["error"]["type"]`, e.g.
    "index_not_found_exception", "resource_already_exists_exception"); "" when the body has none.

    Decide by this (and the status), never by the text of the message."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("type"), str):
        return str(error["type"])
    return ""


def _missing_index(exc: elasticsearch.ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("index") or error.get("resource.id") or "")
    return ""


def _reason(exc: elasticsearch.ApiError) -> str:
    """The most specific reason in an error body (a query parse error is nested in root_cause)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", {})
    if isinstance(error, dict):
        # A query parse error: the shard failure's cause is the parser's own message ("Cannot parse
        # 'title:(x': Encountered "<EOF>" at line 1, column 8."), more useful than the root cause's.
        failed = error.get("failed_shards") or []
        for shard in failed:
            reason = (shard or {}).get("reason", {})
            if isinstance(reason, dict) and reason.get("caused_by", {}).get("reason"):
                return str(reason["caused_by"]["reason"]).split("\nWas expecting", 1)[0].strip()
        causes = error.get("root_cause") or []
        for cause in causes:
            if isinstance(cause, dict) and cause.get("reason"):
                return str(cause["reason"])
        if error.get("reason"):
            return str(error["reason"])
    return str(exc.message or exc)


def _tls_reason(exc: elastic_transport.TlsError) -> str:
    """The SSL library's own words (e.g. "certificate verify failed: self-signed certificate")."""
    text = str(exc.message if hasattr(exc, "message") else exc)
    found = re.search(r"\[SSL: [A-Z_]+\] ([^(\]]+)", text)
    return found.group(1).strip() if found else text[:200]
