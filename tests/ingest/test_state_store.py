"""Feed state in the real Elasticsearch, under the test's own prefix."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.state import FeedStateStore
from ingest.types import FeedState, feed_key

pytestmark = pytest.mark.es

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def state(url: str, **fields: Any) -> FeedState:
    return FeedState(key=feed_key(url), url=url, **fields)


def test_states_round_trip_through_elasticsearch(settings: Any, es_client: Any) -> None:
    store = FeedStateStore(es_client, settings)
    store.ensure()
    store.ensure()  # idempotent
    full = state("https://e.com/a.xml", current_url="https://e.com/b.xml", title="A", etag='"x"',
                 last_modified="Tue, 05 Mar 2024 10:00:00 GMT", last_fetched_at=NOW, last_success_at=NOW,
                 last_status="fetched", consecutive_failures=0, next_due_at=NOW + timedelta(minutes=30),
                 item_count=12, recent_item_times=(NOW, NOW - timedelta(hours=1)), declared_interval=3600.0)
    failing = state("https://e.com/c.xml", last_status="failed", last_error="HTTP 404 Not Found",
                    consecutive_failures=3, gone=False)
    store.save([full, failing])
    assert store.load([full.key, failing.key, "unknown"]) == {full.key: full, failing.key: failing}
    assert [s.url for s in store.load_all()] == ["https://e.com/a.xml", "https://e.com/c.xml"]
    mapping = es_client.indices.get_mapping(index=settings.index_name("feeds"))
    assert next(iter(mapping.values()))["mappings"]["dynamic"] == "strict"


def test_article_counts_accumulate_across_saves(settings: Any, es_client: Any) -> None:
    store = FeedStateStore(es_client, settings)  # the first write creates the index
    feed = state("https://e.com/a.xml")
    store.save([feed])
    store.record_articles({feed.key: 5, "not-stored-yet": 2})
    store.save([replace(feed, last_status="not_modified")])
    store.record_articles({feed.key: 3})
    stored = store.load([feed.key])[feed.key]
    assert stored.articles_total == 8 and stored.last_status == "not_modified"
    store.save([replace(stored, articles_total=stored.articles_total + 2)])  # folded into the state
    assert store.load([feed.key])[feed.key].articles_total == 10


def test_ensure_adds_fields_to_a_feeds_index_made_by_an_older_version(settings: Any, es_client: Any) -> None:
    from ingest.state import FEEDS_MAPPING

    older = {**FEEDS_MAPPING, "properties": {k: v for k, v in FEEDS_MAPPING["properties"].items()
                                             if k != "declared_interval"}}
    es_client.indices.create(index=settings.index_name("feeds"), mappings=older)
    store = FeedStateStore(es_client, settings)
    store.ensure()
    feed = state("https://e.com/a.xml", declared_interval=600.0)
    store.save([feed])
    assert store.load([feed.key]) == {feed.key: feed}


def test_an_empty_store_loads_nothing(settings: Any, es_client: Any) -> None:
    store = FeedStateStore(es_client, settings)
    assert store.load_all() == []
    store.ensure()
    assert store.load([]) == {} and store.load(["x"]) == {}


def test_a_corrupt_state_stored_in_elasticsearch_is_sanitised_on_load(settings: Any, es_client: Any) -> None:
    from ingest.state import MAX_STORED_FAILURES

    store = FeedStateStore(es_client, settings)
    store.ensure()
    url = "https://e.com/corrupt.xml"
    key = feed_key(url)
    # Values Elasticsearch accepts for the mapping but Python cannot use as they are (an older
    # version or a manual edit): the largest integer, dates past datetime's range, a huge float.
    es_client.index(index=settings.index_name("feeds"), id=key, refresh=True, document={
        "key": key, "url": url, "consecutive_failures": 2**31 - 1, "next_due_at": 8_640_000_000_000_000,
        "last_fetched_at": "9999-12-31T23:59:59-05:00", "declared_interval": 3.0e38,
        "recent_item_times": ["2024-03-10T11:00:00Z", 8_640_000_000_000_000],
    })
    loaded = store.load([key])[key]
    assert loaded.consecutive_failures == MAX_STORED_FAILURES
    assert loaded.next_due_at is None and loaded.last_fetched_at is None
    assert loaded.declared_interval == 366 * 86400.0
    assert loaded.recent_item_times == (datetime(2024, 3, 10, 11, 0, tzinfo=UTC),)
    assert [s.key for s in store.load_all()] == [key]
