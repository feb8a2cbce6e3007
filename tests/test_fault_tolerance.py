"""Crash safety: `newsflow run` killed with SIGKILL at every stage and at random moments, then
allowed to finish, leaves every article indexed exactly once and every (rule, story) alerted with
one stable alert id. Runs the real CLI in subprocesses against the real Elasticsearch, a local feed
server and a local webhook receiver."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from newsflow.app.faults import FAULT_POINTS
from tests.conftest import OPT_IN_ENV
from tests.support.corpus_feeds import build_feeds
from tests.support.feedserver import FeedServer, Response

pytestmark = [pytest.mark.slow]


def run_cli(args: list[str], env: dict[str, str], kill_after: float | None = None,
            fault_point: str | None = None) -> subprocess.CompletedProcess[str] | None:
    """Run `python -m newsflow ARGS`; kill it after `kill_after` seconds (None: let it finish)."""
    full_env = {**os.environ, **env}
    if fault_point:
        full_env["NEWSFLOW_FAULT_POINT"] = fault_point
    process = subprocess.Popen([sys.executable, "-m", "newsflow", "-q", *args], env=full_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is None:
        out, err = process.communicate(timeout=600)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)
    try:
        out, err = process.communicate(timeout=kill_after)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)  # finished first
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return None


@pytest.fixture
def world(make_settings: Any, tmp_path: Path) -> Any:
    feeds = build_feeds(n_feeds=4, items_per_feed=25, syndicated=6)
    with FeedServer() as feed_server, FeedServer() as receiver:
        for name, body in feeds.items():
            feed_server.route(name, Response(body=body, headers={"Content-Type": "application/rss+xml"}))
        receiver.route("/hook", Response(status=200, body=b"ok"))
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text("feeds:\n" + "".join(f"  - url: {feed_server.url(n)}\n" for n in feeds))
        settings = make_settings()
        env = {
            "NEWSFLOW_ES_URL": settings.es_url,
            "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
            "NEWSFLOW_HOME": str(settings.home),
            "NEWSFLOW_FETCH__POLITENESS_DELAY": "0",
            **OPT_IN_ENV,  # the feed server listens on 127.0.0.1
            # A run killed after claiming deliveries holds them for this lease; keep it short so the
            # final run (which starts seconds later) may retry them.
            "NEWSFLOW_ALERTS__DELIVERY_LEASE": "1",
        }
        yield settings, env, feeds_file, receiver


def deliveries(receiver: FeedServer) -> dict[str, list[dict[str, Any]]]:
    """Alerts the webhook received, by alert id."""
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for request in receiver.requests_to("/hook"):
        payload = json.loads(request.body)
        assert request.headers.get("Idempotency-Key") == payload["id"]
        by_id[payload["id"]].append(payload)
    return by_id


def test_kills_at_every_stage_lose_nothing_and_duplicate_nothing(world: Any) -> None:
    settings, env, feeds_file, receiver = world
    added = run_cli(["alerts", "add", "agreements", "--query", "body:agreement",
                     "--channel", f"webhook:{receiver.url('/hook')}"], env)
    assert added is not None and added.returncode == 0, added.stderr

    rng = random.Random(2026)
    kills = 0
    for point in FAULT_POINTS:  # a crash exactly at each stage boundary
        result = run_cli(["run", "--feeds", str(feeds_file), "--json"], env, fault_point=point)
        assert result is not None and result.returncode == -signal.SIGKILL, (point, result.stderr[-2000:])
        kills += 1
    for _ in range(3):  # and at random moments (inside fetching, NER, bulk requests, delivery)
        if run_cli(["run", "--feeds", str(feeds_file), "--json"], env,
                   kill_after=rng.uniform(1.0, 9.0)) is None:
            kills += 1

    final = run_cli(["run", "--feeds", str(feeds_file), "--json"], env)
    assert final is not None and final.returncode == 0, final.stderr[-2000:]

    from newsflow.core.es import make_client

    client = make_client(settings)
    alias = settings.index_name("articles")
    client.indices.refresh(index=alias)
    total_items = 4 * 25 + 6
    assert client.count(index=alias)["count"] == total_items
    urls = client.search(index=alias, size=0, aggs={"u": {"terms": {"field": "url", "size": 500}}})
    assert all(bucket["doc_count"] == 1 for bucket in urls["aggregations"]["u"]["buckets"])
    from newsflow.index.store import ArticleStore

    assert ArticleStore(client, settings).alert_pending() == []  # every article was matched

    stories = client.search(index=alias, size=0, query={"match": {"body": "agreement"}},
                            aggs={"s": {"terms": {"field": "story_id", "size": 500}}})
    matched_stories = {bucket["key"] for bucket in stories["aggregations"]["s"]["buckets"]}
    received = deliveries(receiver)
    assert {alerts[0]["story_id"] for alerts in received.values()} == matched_stories
    assert len(received) == len(matched_stories)  # one alert id per (rule, story)
    # The 6 syndicated copies joined their originals' stories: 100 stories, 100 alerts.
    assert len(matched_stories) == total_items - 6

    # A run after recovery changes nothing and sends nothing again.
    posts_before = len(receiver.requests_to("/hook"))
    again = run_cli(["run", "--feeds", str(feeds_file), "--json"], env)
    assert again is not None and again.returncode == 0
    report = json.loads(again.stdout)
    assert report["articles"]["new"] == 0 and report["indexed"] == 0
    assert len(receiver.requests_to("/hook")) == posts_before
    client.close()
    print(f"kills={kills} articles={total_items} stories_alerted={len(matched_stories)} "
          f"webhook_posts={posts_before}")

