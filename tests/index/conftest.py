"""Fixtures for the index tests: articles built in the test, and settings shared by a module's
read-only tests (cleaned up with the session's prefix, like every other test's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from newsflow.core.models import Article
from tests.index.articles import build_article


@pytest.fixture
def make_article() -> Callable[..., Article]:
    """Build an Article with sensible defaults; keyword arguments override fields."""
    return build_article


@pytest.fixture(scope="module")
def module_settings(es_url: str, _es_cleanup: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Settings shared by a module's read-only tests (one prefix, indexed once)."""
    import uuid

    from newsflow.core.settings import load_settings
    from tests.conftest import _SESSION_PREFIX

    return load_settings(es_url=es_url, index_prefix=f"{_SESSION_PREFIX}-m{uuid.uuid4().hex[:8]}",
                         home=tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def module_client(module_settings: Any) -> Iterator[Any]:
    from newsflow.core.es import make_client

    client = make_client(module_settings)
    yield client
    client.close()
