"""The plugin's app serves a saved search's Atom feed at /search/NAME.atom?token=… to feed readers,
without an Airflow login (the token is the credential); the feed-health page still needs a login."""

from __future__ import annotations

import importlib.util
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from newsflow.core.models import Article, article_id_for, utc_now
from newsflow.index.saved_searches import SavedSearchStore
from newsflow.index.store import ArticleStore
from tests.conftest import REPO

pytestmark = [pytest.mark.airflow, pytest.mark.es]


def _plugin_app() -> Any:
    spec = importlib.util.spec_from_file_location("newsflow_plugin_under_test",
                                                  REPO / "plugins" / "newsflow_plugin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def test_a_feed_reader_gets_the_feed_with_its_token_and_nothing_without(
    settings: Any, es_client: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
                        "NEWSFLOW_HOME": str(settings.home)}.items():
        monkeypatch.setenv(name, value)
    store = ArticleStore(es_client, settings)
    url = "https://example.com/pipeline"
    store.write([Article(id=article_id_for(url), url=url, title="Gas pipeline talks resume", summary="",
                         body="Talks on the gas pipeline resume.", source="BBC",
                         feed_url="https://example.com/feed.xml", published_at=utc_now(),
                         ingested_at=utc_now(), language="en")])
    store.refresh()
    _, token = SavedSearchStore(es_client, settings).add("pipelines", "pipeline")
    client = TestClient(_plugin_app())

    served = client.get(f"/search/pipelines.atom?token={token}")
    refused = client.get("/search/pipelines.atom")
    page = client.get("/")

    assert served.status_code == 200 and served.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(served.content)
    assert not feed.bozo and [e.title for e in feed.entries] == ["Gas pipeline talks resume"]
    assert refused.status_code == 404
    assert page.status_code in (401, 403)  # the operators' page keeps Airflow's login
