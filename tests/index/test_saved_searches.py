"""Saved searches as Atom feeds behind a secret URL: the token is the credential, only its hash is
stored, a wrong token and an unknown name look the same, and the feed is valid Atom (feedparser)."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest

from newsflow.app.search_feed import render_search_feed
from newsflow.core.errors import QueryError
from newsflow.index.saved_searches import SavedSearchStore, token_digest
from newsflow.index.store import ArticleStore

pytestmark = pytest.mark.es


@pytest.fixture
def indexed(settings: Any, es_client: Any, make_article: Any) -> Any:
    store = ArticleStore(es_client, settings)
    store.write([
        make_article("pipeline", title="Gas pipeline talks resume", source="BBC", story_id="s1"),
        make_article("pipeline-copy", title="Pipeline talks resume", source="Reuters", story_id="s1"),
        make_article("cup", title="Cup final tonight", source="Guardian", story_id="s2"),
    ])
    store.refresh()
    return settings


def test_a_saved_search_is_served_as_atom_to_its_token_only(indexed: Any, es_client: Any) -> None:
    searches = SavedSearchStore(es_client, indexed)
    search, token = searches.add("pipelines", "pipeline", by_story=True)

    body, status, content_type = render_search_feed("pipelines", token, settings=indexed)
    wrong = render_search_feed("pipelines", token + "x", settings=indexed)
    unknown = render_search_feed("no-such-search", token, settings=indexed)

    assert (status, content_type) == (200, "application/atom+xml; charset=utf-8")
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "newsflow: pipelines"
    assert len(feed.entries) == 1  # by story: the two copies are one entry
    assert wrong[1] == unknown[1] == 404 and wrong[0] == unknown[0]
    stored = es_client.get(index=indexed.index_name("searches"), id="pipelines")["_source"]
    assert stored["token_sha256"] == token_digest(token) and token not in str(stored)
    assert search.path() == "/search/pipelines.atom"


def test_saving_again_makes_a_new_token_and_the_old_url_stops_working(indexed: Any, es_client: Any) -> None:
    searches = SavedSearchStore(es_client, indexed)
    _, old = searches.add("cups", "cup")
    _, new = searches.add("cups", "cup final")

    assert old != new
    assert render_search_feed("cups", old, settings=indexed)[1] == 404
    assert render_search_feed("cups", new, settings=indexed)[1] == 200
    assert [s.name for s in searches.list()] == ["cups"]
    assert searches.remove("cups") and render_search_feed("cups", new, settings=indexed)[1] == 404


def test_an_invalid_query_or_name_is_refused_when_saved(indexed: Any, es_client: Any) -> None:
    searches = SavedSearchStore(es_client, indexed)
    with pytest.raises(QueryError):
        searches.add("broken", 'title:"unclosed')
    with pytest.raises(QueryError, match="name"):
        searches.add("../etc", "cup")
    assert searches.get("broken") is None
