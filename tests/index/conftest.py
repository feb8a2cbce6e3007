"""Fixtures for the index tests: articles built in the test, and a session clean-up that works with
Elasticsearch's `action.destructive_requires_name: true` (deleting by wildcard is refused there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.models import Article, article_id_for


def delete_everything_under(client: Any, prefix: str) -> None:
    """Remove the indices, templates and ILM policies under a prefix, naming each one."""
    found = client.options(ignore_status=404).indices.get(index=f"{prefix}*", expand_wildcards="all")
    names = list(found.body) if found else []
    for start in range(0, len(names), 50):
        client.options(ignore_status=404).indices.delete(index=",".join(names[start:start + 50]))
    templates = client.options(ignore_status=404).indices.get_index_template(name=f"{prefix}*")
    for template in (templates.body if templates else {}).get("index_templates", []):
        client.indices.delete_index_template(name=template["name"])
    components = client.options(ignore_status=404).cluster.get_component_template(name=f"{prefix}*")
    for component in (components.body if components else {}).get("component_templates", []):
        client.options(ignore_status=404).cluster.delete_component_template(name=component["name"])
    for name in list(client.ilm.get_lifecycle().body):
        if name.startswith(prefix):
            client.options(ignore_status=404).ilm.delete_lifecycle(name=name)


@pytest.fixture(scope="session")
def _es_cleanup(es_url: str) -> Iterator[None]:
    # Overrides the root fixture for tests/index: clean up by name, not by wildcard.
    yield
    from elasticsearch import Elasticsearch

    from tests.conftest import _SESSION_PREFIX

    client = Elasticsearch(es_url)
    delete_everything_under(client, _SESSION_PREFIX)
    client.close()


@pytest.fixture
def make_article() -> Callable[..., Article]:
    """Build an Article with sensible defaults; keyword arguments override fields."""

    def factory(slug: str, **fields: Any) -> Article:
        url = fields.pop("url", f"https://news.example.org/{slug}")
        published = fields.pop("published_at", datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
        values: dict[str, Any] = {
            "id": article_id_for(url),
            "url": url,
            "title": f"Article {slug}",
            "summary": f"Summary of {slug}.",
            "body": f"Body of article {slug}.",
            "source": "Example News",
            "feed_url": "https://news.example.org/feed.xml",
            "published_at": published,
            "ingested_at": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
            "language": "en",
        }
        values.update(fields)
        return Article(**values)

    return factory
