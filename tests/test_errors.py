"""The error tree: every exception class newsflow defines lives in newsflow.core.errors, under
NewsflowError, documented in its tree; the Elasticsearch client's errors are all translated, and
decided by their type (checked against the real Elasticsearch where it can produce the error)."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import elastic_transport
import elasticsearch
import pytest

from newsflow.core import errors
from newsflow.core.errors import (
    ElasticsearchOverloaded,
    ElasticsearchUnavailable,
    IndexError_,
    IndexNotFound,
    NewsflowError,
)
from newsflow.core.es import create_index, error_type, translate_errors
from tests.conftest import REPO

RUNTIME = ("newsflow", "ingest", "enrich", "dags", "plugins")
# Private control-flow signals that never leave their function (not errors a caller sees).
PRIVATE_SIGNALS = {("newsflow/app/cycle.py", "_FoundDown")}


def _exception_classes_defined_outside_errors() -> set[tuple[str, str]]:
    ours = {cls.__name__ for cls in _tree()}
    found: set[tuple[str, str]] = set()
    for package in RUNTIME:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative == "newsflow/core/errors.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and any(
                        name in ours or name.endswith(("Error", "Exception"))
                        for name in map(_name, node.bases)):
                    found.add((relative, node.name))
    return found


def _name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def test_no_exception_class_is_defined_outside_the_errors_module() -> None:
    assert _exception_classes_defined_outside_errors() <= PRIVATE_SIGNALS


def _tree() -> list[type[BaseException]]:
    return [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == errors.__name__]


def test_every_error_is_a_documented_newsflow_error_shown_in_the_tree() -> None:
    tree_text = errors.__doc__ or ""
    for cls in _tree():
        assert issubclass(cls, NewsflowError), cls
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} has no docstring"
        assert f" {cls.__name__} " in tree_text or f" {cls.__name__}\n" in tree_text, \
            f"{cls.__name__} is missing from the tree in the errors module's docstring"


_NODE = elastic_transport.NodeConfig("http", "127.0.0.1", 9200)


def _api_error(cls: type[elasticsearch.ApiError], status: int, kind: str = "some_exception") -> Any:
    meta = elastic_transport.ApiResponseMeta(status, "1.1", elastic_transport.HttpHeaders(), 0.0, _NODE)
    return cls(kind, meta, {"error": {"type": kind, "reason": "why", "root_cause": [{"reason": "why"}]},
                            "status": status})


def _client_errors() -> list[BaseException]:
    """One instance of every exception the Elasticsearch client raises (faked: a local node without
    security, proxies or sniffing cannot produce most of them)."""
    statuses = {elasticsearch.BadRequestError: 400, elasticsearch.AuthenticationException: 401,
                elasticsearch.AuthorizationException: 403, elasticsearch.NotFoundError: 404,
                elasticsearch.ConflictError: 409, elasticsearch.UnsupportedProductError: 200,
                elasticsearch.ApiError: 500}
    found: list[BaseException] = [_api_error(cls, status) for cls, status in statuses.items()]
    for module in (elasticsearch.exceptions, elastic_transport):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, elastic_transport.TransportError):
                found.append(cls("the message"))
    api_classes = {cls for _, cls in inspect.getmembers(elasticsearch.exceptions, inspect.isclass)
                   if issubclass(cls, elasticsearch.ApiError)}
    assert api_classes <= set(statuses), f"a new client error class to map: {api_classes - set(statuses)}"
    return found


@pytest.mark.parametrize("raised", _client_errors(), ids=lambda e: type(e).__name__)
def test_every_client_error_is_translated(raised: BaseException) -> None:
    with pytest.raises(NewsflowError) as caught, translate_errors("http://127.0.0.1:9200"):
        raise raised
    assert caught.value.__cause__ is raised


def test_errors_are_typed_by_status_and_error_type_not_text() -> None:
    with pytest.raises(IndexNotFound) as missing, translate_errors("http://es"):
        raise _api_error(elasticsearch.NotFoundError, 404, "index_not_found_exception")
    assert (missing.value.status, missing.value.error_type) == (404, "index_not_found_exception")
    # Another 404 (a missing document, a missing pipeline) is not a missing index.
    with pytest.raises(IndexError_) as other, translate_errors("http://es"):
        raise _api_error(elasticsearch.NotFoundError, 404, "resource_not_found_exception")
    assert type(other.value) is IndexError_ and other.value.error_type == "resource_not_found_exception"
    with pytest.raises(ElasticsearchOverloaded) as busy, translate_errors("http://es"):
        raise _api_error(elasticsearch.ApiError, 429, "es_rejected_execution_exception")
    assert busy.value.status == 429 and isinstance(busy.value, ElasticsearchUnavailable)


@pytest.mark.es
def test_a_missing_index_is_index_not_found(es_client: Any, settings: Any) -> None:
    missing = settings.index_name("never-created")
    with pytest.raises(IndexNotFound, match=f"no index or alias {missing}.*newsflow setup") as caught, \
            translate_errors(settings.es_url_redacted):
        es_client.search(index=missing, query={"match_all": {}})
    assert caught.value.index == missing
    assert error_type(caught.value.__cause__) == "index_not_found_exception"


@pytest.mark.es
def test_create_index_takes_exists_already_as_success_and_raises_any_other_refusal(
        es_client: Any, settings: Any) -> None:
    name = settings.index_name("created-twice")
    with translate_errors(settings.es_url_redacted):
        assert create_index(es_client, index=name) is True
        assert create_index(es_client, index=name) is False
    with pytest.raises(IndexError_) as refused, translate_errors(settings.es_url_redacted):
        create_index(es_client, index=settings.index_name("bad-mapping"),
                     mappings={"properties": {"title": {"type": "no-such-type"}}})
    assert refused.value.status == 400 and refused.value.error_type == "mapper_parsing_exception"
