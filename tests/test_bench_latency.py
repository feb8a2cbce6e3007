"""`newsflow bench --airflow-latency`: the bookkeeping and the report maths, without Airflow.

The benchmark itself runs a local Airflow for ten minutes and more, by hand (docs/benchmark.md);
here: the publication schedule, item timelines fed by a real feed server and webhook receiver on
loopback, percentiles, poll gaps, DAG-run accounting and the goals."""

from __future__ import annotations

import random
import time

import httpx
import pytest
from click.testing import CliRunner

from newsflow.cli.bench import command
from newsflow.dev.bench_latency import (
    CATEGORY,
    FeedFarm,
    ItemTimeline,
    Timelines,
    backlog_offsets,
    latency_goals,
    latency_report,
    percentile,
    poll_gaps,
    publication_schedule,
    pushed_goal,
    run_summary,
    side_by_side,
    summary,
    webhook_receiver,
)


def test_percentile_interpolates_between_the_closest_ranks() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10

    assert percentile(values, 50) == 5.5
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 10
    assert percentile([7.0], 95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_of_nothing_is_only_a_count() -> None:
    assert summary([]) == {"count": 0}
    assert summary([10.0, 20.0, 30.0, 40.0]) == {"count": 4, "p50": 25.0, "p95": 38.5, "max": 40.0,
                                                 "mean": 25.0}


def test_the_schedule_is_a_poisson_process_per_feed_in_time_order() -> None:
    events = publication_schedule(feeds=30, duration=600, mean_gap=60, seed=1)

    assert events == sorted(events)
    assert all(0 <= at < 600 for at, _ in events)
    assert {feed for _, feed in events} == set(range(30))
    # 30 feeds x 600 s / 60 s = 300 items expected; a Poisson count stays well within +-20 %.
    assert 240 <= len(events) <= 360
    assert events == publication_schedule(feeds=30, duration=600, mean_gap=60, seed=1)  # reproducible
    history = backlog_offsets(8, 60, random.Random(2))
    assert len(history) == 8 and history == sorted(history) and all(at < 0 for at in history)


def item(appeared: float, polled: float | None, searchable: float | None, alerted: float | None,
         alerts: int = 1, grouped: bool = False) -> ItemTimeline:
    return ItemTimeline(f"http://x/{appeared}", 0, appeared, True, polled, searchable, alerted, alerts,
                        grouped=grouped)


def test_latency_report_measures_each_stage_and_counts_the_missing() -> None:
    items = [item(0, 30, 40, 50), item(10, 30, 40, 50), item(20, 90, 100, 115, alerts=2),
             item(30, 90, 100, None, alerts=0), item(40, None, None, None, alerts=0),
             item(50, 90, 100, None, alerts=0, grouped=True)]

    report = latency_report(items)

    assert report["appeared_to_alert"] == {"count": 3, "p50": 50.0, "p95": 90.5, "max": 95.0, "mean": 61.7}
    assert report["appeared_to_searchable"]["count"] == 5
    assert report["appeared_to_searchable"]["max"] == 80.0
    assert report["appeared_to_polled"]["p50"] == 40.0  # 30, 20, 70, 60, 40
    assert report["polled_to_searchable"] == {"count": 5, "p50": 10.0, "p95": 10.0, "max": 10.0, "mean": 10.0}
    assert report["searchable_to_alert"]["max"] == 15.0
    assert (report["items"], report["never_polled"], report["never_searchable"], report["never_alerted"],
            report["alerted_more_than_once"], report["grouped_into_an_alerted_story"]) == (6, 1, 1, 2, 1, 1)


def test_goals_are_relative_to_the_poll_interval() -> None:
    met = latency_goals({"count": 10, "p50": 50.0, "p95": 90.0}, interval=60)
    assert all(met.values())
    missed = latency_goals({"count": 10, "p50": 50.1, "p95": 90.1}, interval=60)
    assert not any(missed.values())
    assert not any(latency_goals({"count": 0}, interval=60).values())


def test_poll_gaps_are_per_feed_and_start_at_since() -> None:
    requests = [(0.0, 0, 200), (60.0, 0, 304), (180.0, 0, 200), (5.0, 1, 200), (125.0, 1, 304)]

    gaps = poll_gaps(requests)
    assert gaps["gap_seconds"]["count"] == 3  # 60, 120 (feed 0), 120 (feed 1)
    assert gaps["gap_seconds"]["max"] == 120.0
    assert gaps["requests_by_status"] == {"200": 3, "304": 2}
    assert poll_gaps(requests, since=50.0)["gap_seconds"]["count"] == 1  # 60 -> 180 only
    assert poll_gaps(requests, interval=60)["gaps_longer_than_1.5_intervals"] == 2


def test_run_summary_places_the_feed_requests_inside_each_run() -> None:
    runs = [{"run_id": "a", "state": "success", "after": 0.0, "started": 2.0, "ended": 30.0},
            {"run_id": "b", "state": "success", "after": 60.0, "started": 61.0, "ended": 80.0},
            {"run_id": "c", "state": "running", "after": 120.0, "started": 121.0, "ended": None}]
    requests = [(9.0, 0, 200), (10.0, 1, 200), (12.0, 2, 304), (68.0, 0, 304), (200.0, 1, 200)]

    report = run_summary(runs, requests)

    assert report["runs"] == 2  # the unfinished run is left out
    assert report["duration_seconds"]["max"] == 28.0
    assert report["start_after_schedule_seconds"]["max"] == 2.0
    assert report["first_request_after_start_seconds"]["p50"] == 7.0  # 7 and 7
    assert report["request_spread_seconds"]["max"] == 3.0
    assert [row["requests"] for row in report["per_run"]] == [3, 1]


def test_the_feed_farm_and_the_webhook_fill_the_timelines() -> None:
    """A real feed server on two loopback hosts: an item is polled by the first 200 that contains it,
    a conditional GET with the feed's ETag is a 304, an alert is timestamped by the item's link."""
    timelines = Timelines()
    farm = FeedFarm(4, timelines, interval=60)
    farm.start()
    try:
        assert farm.url(0).startswith("http://127.0.0.2:") and farm.url(3).startswith("http://127.0.0.3:")
        key = farm.publish(1, 7, "A title long enough", "A summary of the article.")
        first = httpx.get(farm.url(1))
        assert first.status_code == 200 and first.headers["cache-control"] == "max-age=60"
        assert f"<category>{CATEGORY}</category>" in first.text and "<ttl>1</ttl>" in first.text
        assert key in first.text
        again = httpx.get(farm.url(1), headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        later = farm.publish(1, 8, "Another title, later", "Another summary.")
        assert httpx.get(farm.url(1), headers={"If-None-Match": first.headers["etag"]}).status_code == 200

        with webhook_receiver(timelines) as hook:
            assert hook.startswith("http://127.0.0.1:")
            httpx.post(hook, json={"rule": "r", "story_id": "s1", "article": {"url": key}}).raise_for_status()
            httpx.post(hook, json={"rule": "r", "article": {"url": "http://elsewhere/x"}}).raise_for_status()
        timelines.searchable({key: "s1"}, time.time())
        assert not timelines.settled(measured=True)
        timelines.searchable({later: "s1"}, time.time())  # a copy of the alerted story: never alerted
        assert timelines.settled(measured=True)
    finally:
        farm.stop()

    by_key = {i.key: i for i in timelines.snapshot()}
    first_item, second_item = by_key[key], by_key[later]
    assert first_item.appeared_at <= first_item.polled_at <= first_item.searchable_at  # type: ignore[operator]
    assert first_item.alerted_at is not None and first_item.alerts == 1
    assert second_item.polled_at is not None and second_item.polled_at >= second_item.appeared_at
    assert second_item.alerted_at is None and second_item.grouped
    assert timelines.unknown_alerts == 1
    assert [status for _, feed, status in timelines.requests] == [200, 304, 200]
    assert timelines.not_searchable() == []


def test_a_pushed_feed_announces_its_hub_and_the_pushed_document_marks_its_items() -> None:
    from ingest.parse import parse_feed
    from ingest.websub import discover

    timelines = Timelines()
    farm = FeedFarm(2, timelines, interval=60)
    farm.start()
    try:
        farm.hubs = {1: "http://127.0.0.1:9/"}
        key = farm.publish(1, 3, "A pushed title, long enough", "Its summary.")
        body, keys = farm.document(1)
        assert keys == [key] and timelines.requests == []  # a push is not a poll
        links = discover(parse_feed(body), {}, farm.url(1))
        assert links is not None and (links.hub, links.topic) == ("http://127.0.0.1:9/", farm.url(1))
        assert discover(parse_feed(httpx.get(farm.url(0)).content), {}, farm.url(0)) is None
        timelines.pushed(keys, time.time())
        [item] = timelines.snapshot()
        assert item.polled_at is not None and item.polled_at >= item.appeared_at
    finally:
        farm.stop()


def test_the_pushed_goal_and_the_side_by_side_figures() -> None:
    assert pushed_goal({"count": 12, "p95": 9.9}) == {"pushed_alert_p95_within_10s": True}
    assert pushed_goal({"count": 12, "p95": 10.1}) == {"pushed_alert_p95_within_10s": False}
    assert pushed_goal({"count": 0}) == {"pushed_alert_p95_within_10s": False}
    polled = latency_report([ItemTimeline("a", 0, 0.0, polled_at=30.0, searchable_at=35.0, alerted_at=40.0)])
    pushed = latency_report([ItemTimeline("b", 1, 0.0, polled_at=0.1, searchable_at=2.0, alerted_at=3.0)])
    figures = side_by_side(polled, pushed)
    assert figures["polled_appeared_to_alert"] == {"count": 1, "p50": 40.0, "p95": 40.0, "max": 40.0}
    assert figures["pushed_appeared_to_searchable"]["p95"] == 2.0


def test_the_command_refuses_a_publisher_interval_below_the_floor() -> None:
    result = CliRunner().invoke(command, ["--airflow-latency", "--publisher-interval", "30"])
    assert result.exit_code == 2
    assert "at least 60" in result.output
