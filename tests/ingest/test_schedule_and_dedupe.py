"""Pure decisions: which feeds are due, when to poll next, which articles are new or changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ingest.dedupe import StoredArticle, classify, unique_by_id
from ingest.schedule import PollHints, cache_seconds, failure_delay, poll_interval, select_due
from ingest.types import FeedSpec, FeedState
from newsflow.models import Article, article_id_for
from newsflow.settings import FetchSettings

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
FETCH = FetchSettings()  # floor 5 min, ceiling 24 h, default 30 min


def test_due_feeds_are_new_ones_and_those_whose_time_has_come_never_gone_ones() -> None:
    new, due, later, gone = (FeedSpec(url=f"http://e.com/{n}") for n in range(4))
    states = {
        due.key: FeedState(key=due.key, url=due.url, next_due_at=NOW - timedelta(seconds=1)),
        later.key: FeedState(key=later.key, url=later.url, next_due_at=NOW + timedelta(minutes=5)),
        gone.key: FeedState(key=gone.key, url=gone.url, gone=True),
    }
    assert select_due([new, due, later, gone], states, NOW) == [new, due]


def test_the_interval_follows_the_publishers_hints_within_floor_and_ceiling() -> None:
    spec = FeedSpec(url="http://e.com/f")
    assert poll_interval(spec, PollHints(), FETCH) == FETCH.default_interval
    assert poll_interval(spec, PollHints(ttl=3600), FETCH) == 3600
    assert poll_interval(spec, PollHints(cache_seconds=60), FETCH) == FETCH.min_interval
    assert poll_interval(spec, PollHints(update_period=7 * 86400), FETCH) == FETCH.max_interval
    assert poll_interval(replace(spec, poll_interval=120.0), PollHints(ttl=3600), FETCH) == 120


def test_the_observed_update_frequency_sets_the_interval_to_half_the_usual_gap() -> None:
    every_four_hours = tuple(NOW - timedelta(hours=4 * n) for n in range(6))
    assert poll_interval(FeedSpec(url="u"), PollHints(item_times=every_four_hours), FETCH) == 2 * 3600


def test_cache_control_and_expires_headers() -> None:
    assert cache_seconds({"cache-control": "public, max-age=600"}) == 600
    assert cache_seconds({"cache-control": "no-cache, max-age=600"}) is None
    assert cache_seconds({"expires": "Sun, 10 Mar 2024 13:00:00 GMT",
                          "date": "Sun, 10 Mar 2024 12:00:00 GMT"}) == 3600
    assert cache_seconds({"expires": "0"}) is None


def test_failures_back_off_exponentially_and_retry_after_is_honoured() -> None:
    spec = FeedSpec(url="u")
    assert [failure_delay(spec, n, FETCH, None) for n in (1, 2, 3)] == [300, 600, 1200]
    assert failure_delay(spec, 20, FETCH, None) == FETCH.max_interval
    assert failure_delay(spec, 1, FETCH, 7200) == 7200


def article(url: str, body: str = "", title: str = "t") -> Article:
    return Article(id=article_id_for(url), url=url, title=title, summary="", body=body, source="s",
                   feed_url="f", published_at=NOW, ingested_at=NOW)


def test_the_same_article_from_two_feeds_is_kept_once_the_richest_copy() -> None:
    short, full, other = article("http://e.com/a", "short"), article("http://e.com/a", "full text " * 9), \
        article("http://e.com/b")
    assert unique_by_id([short, other, full]) == [full, other]


def test_classify_splits_new_updated_and_unchanged_by_content_hash() -> None:
    same, edited, fresh = article("http://e.com/1"), article("http://e.com/2", title="v2"), \
        article("http://e.com/3")
    stored = {a.id: StoredArticle(a.content_hash, a.feed_url, a.published_at)
              for a in (same, article("http://e.com/2", title="v1"))}
    result = classify([same, edited, fresh], stored)
    assert (result.new, result.updated, result.unchanged) == ((fresh,), (edited,), (same,))
    # Polled again later: a new fetch time does not make an article "updated".
    assert classify([replace(same, ingested_at=NOW + timedelta(hours=1))], stored).unchanged
