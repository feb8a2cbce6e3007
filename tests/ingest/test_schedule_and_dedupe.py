"""Pure decisions: which feeds are due, when to poll next, which articles are new or changed."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.dedupe import StoredArticle, classify, unique_by_id
from ingest.schedule import (
    MAX_DELAY,
    MAX_RETRY_AFTER,
    PollHints,
    cache_seconds,
    due_at,
    failure_delay,
    merge_item_times,
    next_due,
    observed_gap,
    poll_interval,
    select_due,
)
from ingest.types import FeedSpec, FeedState
from newsflow.core.models import Article, article_id_for
from newsflow.core.settings import FetchSettings

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


def test_a_feed_due_just_after_the_plan_is_polled_now_at_most_a_quarter_of_its_interval_early() -> None:
    """A once-a-minute plan would otherwise poll a 60 s feed every 120 s (the Freshness benchmark)."""
    minute, short, hourly = (FeedSpec(url=f"http://e.com/{n}") for n in range(3))
    fetched = NOW - timedelta(seconds=50)
    states = {  # all due 10 s after the plan
        minute.key: FeedState(key=minute.key, url=minute.url, last_fetched_at=fetched,
                              next_due_at=fetched + timedelta(seconds=60)),
        short.key: FeedState(key=short.key, url=short.url, last_fetched_at=NOW - timedelta(seconds=20),
                             next_due_at=NOW + timedelta(seconds=10)),  # 30 s interval: 7.5 s early at most
        hourly.key: FeedState(key=hourly.key, url=hourly.url, last_fetched_at=NOW - timedelta(minutes=59),
                              next_due_at=NOW + timedelta(seconds=10)),
    }
    assert select_due([minute, short, hourly], states, NOW) == [minute, hourly]
    assert select_due([minute, short, hourly], states, NOW, slack=timedelta(0)) == []
    assert select_due([minute], states, NOW - timedelta(seconds=11)) == []  # 21 s early: beyond the slack


def test_a_pushed_feed_is_polled_only_at_its_safety_poll_but_a_longer_wait_still_wins() -> None:
    pushed, polled, retry_after, never = (FeedSpec(url=f"http://e.com/{n}") for n in range(4))
    hour_ago = NOW - timedelta(hours=1)
    states = {spec.key: FeedState(key=spec.key, url=spec.url, last_fetched_at=hour_ago,
                                  next_due_at=hour_ago + timedelta(minutes=30)) for spec in (pushed, polled)}
    states[retry_after.key] = FeedState(key=retry_after.key, url=retry_after.url, last_fetched_at=hour_ago,
                                        next_due_at=NOW + timedelta(days=3))  # a 3-day Retry-After
    states[never.key] = FeedState(key=never.key, url=never.url)  # never polled: no safety poll to wait for
    keys = {pushed.key, retry_after.key, never.key}
    specs = [pushed, polled, retry_after, never]
    assert select_due(specs, states, NOW) == [pushed, polled, never]  # no subscriptions: the usual schedule
    assert select_due(specs, states, NOW, pushed=keys) == [polled, never]
    day = hour_ago + timedelta(days=1)
    assert select_due(specs, states, day - timedelta(seconds=21), pushed=keys) == [polled, never]
    assert select_due(specs, states, day - timedelta(seconds=20), pushed=keys) == [pushed, polled, never]
    assert select_due(specs, states, NOW + timedelta(hours=2), pushed=keys, safety_poll=3600.0) == [
        pushed, polled, never]
    assert select_due(specs, states, NOW + timedelta(days=3), pushed=keys) == specs
    assert due_at(states[pushed.key], 1e300) == hour_ago + timedelta(seconds=MAX_DELAY)  # clamped


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


# Numbers a server, a feed or a stored state can hold: none of them may raise, or move a poll
# outside the floor and ceiling (the finding: Retry-After 999999999999 raised OverflowError in
# next_due, for every later cycle too; 1e11 stored failures moved a poll to the year 5195).
HOSTILE_NUMBERS: list[Any] = [0, -1, 0.5, -1e300, 1e300, 10**400, -(10**400), math.inf, -math.inf, math.nan,
                              1025, 1025.0, 10**11, 1e11, 2**63, 999_999_999_999, "3600", "abc", None, True]


@pytest.mark.parametrize("value", HOSTILE_NUMBERS, ids=repr)
def test_every_schedule_decision_is_total_and_within_its_bounds(value: Any) -> None:
    spec = FeedSpec(url="u")
    floor, ceiling = FETCH.min_interval, FETCH.max_interval
    hinted = poll_interval(spec, PollHints(cache_seconds=value, ttl=value, update_period=value), FETCH)
    assert floor <= hinted <= ceiling
    assert 60 <= poll_interval(replace(spec, poll_interval=value), PollHints(), FETCH) <= MAX_DELAY
    assert floor <= failure_delay(spec, value, FETCH, None) <= ceiling
    assert floor <= failure_delay(spec, 3, FETCH, value) <= max(ceiling, MAX_RETRY_AFTER)
    assert NOW <= next_due(NOW, value) <= NOW + timedelta(seconds=MAX_DELAY)


def test_a_huge_retry_after_is_honoured_up_to_seven_days_and_huge_failure_counts_hit_the_ceiling() -> None:
    spec = FeedSpec(url="u")
    assert failure_delay(spec, 1, FETCH, 999_999_999_999.0) == MAX_RETRY_AFTER == 7 * 86400
    assert next_due(NOW, failure_delay(spec, 1, FETCH, 999_999_999_999.0)) == NOW + timedelta(days=7)
    assert failure_delay(spec, 1025, FETCH, None) == FETCH.max_interval
    assert failure_delay(spec, 10**11, FETCH, None) == FETCH.max_interval
    assert failure_delay(replace(spec, poll_interval=600.0), 1025, FETCH, None) == FETCH.max_interval
    late = datetime.max.replace(tzinfo=UTC) - timedelta(seconds=10)
    assert next_due(late, 3600) == datetime.max.replace(tzinfo=UTC)


def test_cache_headers_with_absurd_values_are_clamped_or_ignored() -> None:
    assert cache_seconds({"cache-control": "max-age=" + "9" * 400}) == MAX_RETRY_AFTER
    assert cache_seconds({"expires": "Fri, 31 Dec 9999 23:59:59 GMT",
                          "date": "Sun, 10 Mar 2024 12:00:00 GMT"}) == MAX_RETRY_AFTER
    assert cache_seconds({"expires": "Fri, 31 Dec 99999 23:59:59 +9999", "date": "garbage"}) is None
    assert cache_seconds({"expires": "Sun, 10 Mar 2024 11:00:00 GMT",
                          "date": "Sun, 10 Mar 2024 12:00:00 GMT"}) is None  # already stale


def test_item_times_of_the_wrong_kind_are_ignored_by_the_observed_frequency() -> None:
    every_hour = tuple(NOW - timedelta(hours=n) for n in range(4))
    mixed: tuple[Any, ...] = (*every_hour, datetime(2024, 3, 10), "2024-03-10T12:00:00Z", None)
    assert observed_gap(mixed) == 3600
    later = NOW + timedelta(hours=1)
    assert merge_item_times(mixed, ("junk", later)) == (later, *every_hour)
