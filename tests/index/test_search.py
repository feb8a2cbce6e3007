"""Searching a known set of articles in the real Elasticsearch: hits, facet counts, filters, the time
window, highlights, and the errors a user sees."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from newsflow.core.durations import parse_duration
from newsflow.core.errors import LeadingWildcardError, QueryError, SearchTimeout
from newsflow.core.models import utc_now
from newsflow.index.search import SearchResult, build_query, parse_filter, search_articles
from newsflow.index.setup import names_for
from newsflow.index.store import ArticleStore
from tests.index.articles import build_article

pytestmark = pytest.mark.es


@pytest.fixture(scope="module")
def es_client(module_client: Any) -> Any:
    return module_client


@pytest.fixture(scope="module")
def settings(module_settings: Any) -> Any:
    # The tests only read: one prefix, indexed once, serves the whole module.
    return module_settings


@pytest.fixture(scope="module")
def corpus(es_client: Any, settings: Any) -> list[Any]:
    make_article = build_article
    now = utc_now()
    articles = [
        make_article("summit", title="Putin and Scholz meet at summit", source="BBC",
                     body="Vladimir Putin met Olaf Scholz in Berlin to discuss gas supplies.",
                     persons=("Vladimir Putin", "Olaf Scholz"), organizations=("Gazprom",),
                     locations=("Berlin",), topics=("politics", "energy"), story_id="story-a",
                     published_at=now - timedelta(hours=2)),
        make_article("summit-copy", title="Putin, Scholz meet in Berlin", source="Reuters",
                     body="Russian President Vladimir Putin and Olaf Scholz met in Berlin.",
                     persons=("Vladimir Putin", "Olaf Scholz"), locations=("Berlin",),
                     topics=("politics",), story_id="story-a", published_at=now - timedelta(hours=3)),
        make_article("gas", title="Gas prices fall", source="BBC",
                     body="Gazprom said European gas prices fell as storage filled.",
                     organizations=("Gazprom", "European Union"), locations=("Europe",),
                     topics=("energy", "economy"), story_id="story-b", published_at=now - timedelta(days=3)),
        make_article("football", title="Cup final tonight", source="Guardian",
                     body="The final kicks off in London.", locations=("London",), topics=("sport",),
                     story_id="story-c", published_at=now - timedelta(days=10)),
    ]
    store = ArticleStore(es_client, settings)
    store.write(articles)
    store.refresh()
    return articles


def _facet(result: SearchResult, name: str) -> dict[str, int]:
    return {f.value: f.count for f in result.facets[name]}


def test_match_all_counts_every_facet_over_the_whole_set(es_client: Any, settings: Any, corpus: Any) -> None:
    result = search_articles(es_client, settings, "*", size=10)

    assert result.total == 4
    assert _facet(result, "persons") == {"Vladimir Putin": 2, "Olaf Scholz": 2}
    assert _facet(result, "organizations") == {"Gazprom": 2, "European Union": 1}
    assert _facet(result, "locations") == {"Berlin": 2, "Europe": 1, "London": 1}
    assert _facet(result, "topics") == {"politics": 2, "energy": 2, "economy": 1, "sport": 1}
    assert _facet(result, "source") == {"BBC": 2, "Reuters": 1, "Guardian": 1}


def test_a_text_query_finds_stemmed_words_and_facets_follow_the_hits(
    es_client: Any, settings: Any, corpus: Any
) -> None:
    result = search_articles(es_client, settings, "meeting")  # stems to "meet"

    assert result.total == 2
    assert {h.url for h in result.hits} == {corpus[0].url, corpus[1].url}
    assert {h.story_id for h in result.hits} == {"story-a"}
    assert _facet(result, "source") == {"BBC": 1, "Reuters": 1}
    assert _facet(result, "organizations") == {"Gazprom": 1}
    assert any("<em>meet</em>" in fragment for fragment in result.hits[0].highlights["title"])


def test_fielded_lucene_queries_work_on_keyword_and_exact_fields(
    es_client: Any, settings: Any, corpus: Any
) -> None:
    assert search_articles(es_client, settings, 'persons:"Vladimir Putin" AND source:BBC').total == 1
    assert search_articles(es_client, settings, "title.exact:prices").total == 1
    assert search_articles(es_client, settings, "title.exact:price").total == 0
    assert search_articles(es_client, settings, "title:price").total == 1


def test_filters_and_the_time_window_narrow_the_hits(es_client: Any, settings: Any, corpus: Any) -> None:
    by_topic = search_articles(es_client, settings, "*", filters=[("topics", "energy")])
    both = search_articles(es_client, settings, "*", filters=[("topics", "energy"), ("source", "BBC")])
    recent = search_articles(es_client, settings, "*", since=timedelta(days=1))
    this_week = search_articles(es_client, settings, "*", since=parse_duration("7d"))

    assert by_topic.total == 2 and both.total == 2
    assert search_articles(es_client, settings, "*", filters=[("source", "bbc")]).total == 0  # exact
    assert {h.id for h in recent.hits} == {corpus[0].id, corpus[1].id}
    assert this_week.total == 3


def test_size_limits_hits_but_not_total_or_facets(es_client: Any, settings: Any, corpus: Any) -> None:
    result = search_articles(es_client, settings, "*", size=1)

    assert len(result.hits) == 1 and result.total == 4
    assert sum(_facet(result, "source").values()) == 4


def test_json_output_has_exactly_the_contract_fields(es_client: Any, settings: Any, corpus: Any) -> None:
    data = search_articles(es_client, settings, "gas", size=1).to_json()

    assert set(data) == {"total", "hits", "facets"}
    assert set(data["hits"][0]) == {"id", "title", "url", "source", "published_at", "story_id", "score"}
    assert set(data["facets"]) == {"persons", "organizations", "locations", "topics", "source",
                                   "credit", "distributor"}
    assert data["facets"]["source"][0] == {"value": "BBC", "count": 2}


def test_an_invalid_query_raises_query_error_with_the_parser_message(
    es_client: Any, settings: Any, corpus: Any
) -> None:
    with pytest.raises(QueryError, match=r"Cannot parse 'title:\(putin'") as caught:
        search_articles(es_client, settings, "title:(putin")
    assert caught.value.query == "title:(putin"


@pytest.mark.parametrize("query", ["*utin", "title:?utin", "gas AND *ummit"])
def test_a_leading_wildcard_is_refused_with_a_clear_error(
    es_client: Any, settings: Any, corpus: Any, query: str
) -> None:
    with pytest.raises(LeadingWildcardError, match="may not start with '\\*' or '\\?'") as caught:
        search_articles(es_client, settings, query)
    assert caught.value.query == query


def test_a_trailing_wildcard_and_match_all_still_work(es_client: Any, settings: Any, corpus: Any) -> None:
    assert {h.source for h in search_articles(es_client, settings, "title:Put*").hits} == {"BBC", "Reuters"}
    assert search_articles(es_client, settings, "*").total == 4
    assert search_articles(es_client, settings, "title:*").total == 4  # field:* is "has a title"


def test_a_search_against_a_stalled_cluster_gives_up_after_the_search_timeout(
    stalled_server: str, tmp_path: Any
) -> None:
    from newsflow.core.es import make_client
    from newsflow.core.settings import load_settings

    stalled = load_settings(es_url=stalled_server, index_prefix="stalled", home=tmp_path,
                            index={"search_timeout": 0.5, "request_timeout": 60})
    client = make_client(stalled)
    started = time.monotonic()
    try:
        with pytest.raises(SearchTimeout, match=r"longer than 0.5 s .*NEWSFLOW_INDEX__SEARCH_TIMEOUT"):
            search_articles(client, stalled, "gas")
    finally:
        client.close()
    # The client's grace over the search timeout, once: not request_timeout, not retried.
    assert time.monotonic() - started < 15


@pytest.fixture
def stalled_server() -> Any:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a stalled cluster)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_filter_on_an_unknown_field_is_refused_before_searching() -> None:
    with pytest.raises(QueryError, match=r"cannot filter on 'colour'.*source"):
        build_query("*", [("colour", "red")], None)
    with pytest.raises(QueryError, match="FIELD=VALUE"):
        parse_filter("source")
    assert parse_filter("persons=Vladimir Putin") == ("persons", "Vladimir Putin")


def test_search_sets_up_missing_indices_itself(module_client: Any, make_settings: Any) -> None:
    fresh = make_settings()

    result = search_articles(module_client, fresh, "*")

    assert result.total == 0 and result.hits == ()
    assert module_client.indices.exists_alias(name=names_for(fresh).alias)
