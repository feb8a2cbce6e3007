"""Backpressure and the spool, through the real CLI: an overloaded, flaky or unreachable Elasticsearch
never loses an article, never crashes a cycle, and the run report says what happened.

A local proxy (tests/support/esproxy.py) sits in front of the real Elasticsearch and answers `_bulk`
requests with 429, 503, connection resets and stalls; local feed servers serve the feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsflow.app.indices import ensure_all
from tests.support.corpus_feeds import build_feeds, rss
from tests.support.esproxy import ElasticsearchProxy, writes_articles
from tests.support.feedserver import FeedServer, RecordedRequest, Response

pytestmark = [pytest.mark.slow, pytest.mark.es]

REQUEST_TIMEOUT = 3.0  # the client's; a stall holds a request longer than this


def run_cycle(env: dict[str, str], feeds_file: Path, *extra: str) -> dict[str, Any]:
    """One `newsflow run --json` in a subprocess; asserts exit 0 and returns the report."""
    process = subprocess.run(
        [sys.executable, "-m", "newsflow", "-q", "run", "--feeds", str(feeds_file), "--json", *extra],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout)


def conditional(body: bytes, etag: str) -> Any:
    """A feed route that answers 304 to a conditional GET carrying its ETag (and 200 otherwise)."""
    def respond(request: RecordedRequest) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"})
    return respond


@pytest.fixture
def world(make_settings: Any, tmp_path: Path) -> Iterator[Any]:
    """Settings with their indices set up directly (not through the proxy), a feed server, and the
    environment for CLI runs (ES URL filled in by each test)."""
    settings = make_settings()
    from newsflow.core.es import make_client

    client = make_client(settings)
    ensure_all(client, settings)
    with FeedServer() as feeds:
        env = {
            "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
            "NEWSFLOW_HOME": str(settings.home),
            "NEWSFLOW_FETCH__POLITENESS_DELAY": "0",
            "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
            "NEWSFLOW_INDEX__BULK_RETRIES": "1",
            "NEWSFLOW_INDEX__BULK_BACKOFF": "0.05",
            "NEWSFLOW_INDEX__REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
        }
        yield settings, client, feeds, env, tmp_path
    client.close()


def stored_ids(client: Any, settings: Any) -> Counter[str]:
    """How many documents each article id has across every index behind the alias (rolled ones too)."""
    alias = settings.index_name("articles")
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, size=10_000, source=False)["hits"]["hits"]
    return Counter(hit["_id"] for hit in hits)


def spool_files(settings: Any) -> list[Path]:
    return sorted(settings.spool_dir.glob("*.json")) if settings.spool_dir.is_dir() else []


def test_429_on_every_article_bulk_spools_the_articles_and_the_healed_cluster_gets_them(world: Any) -> None:
    # Finding 3: with 429 to article bulks the cycle reported new 3, indexed 0, problems [] and the
    # next cycle said not_modified: three articles gone.
    settings, client, feeds, env, tmp = world
    body = build_feeds(n_feeds=1, items_per_feed=3, syndicated=0)["feed0.xml"]
    feeds.route("/world.xml", conditional(body, '"v1"'))
    feeds_file = tmp / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {feeds.url('/world.xml')}\n")

    with ElasticsearchProxy(settings.es_url, fault=writes_articles(settings.index_prefix)) as proxy:
        env = {**env, "NEWSFLOW_ES_URL": proxy.url}
        refused = run_cycle(env, feeds_file)
        assert refused["articles"]["new"] == 3
        assert (refused["indexed"], refused["dead_lettered"]) == (0, 0)
        assert refused["spooled"] == 3 and refused["spool_added"] == 3
        assert any("429" in problem and "spooled" in problem for problem in refused["problems"])
        assert "429" in proxy.faults

        # Still refused: the feed answers 304 and nothing is spooled a second time.
        batches = spool_files(settings)
        again = run_cycle(env, feeds_file)
        assert again["feeds"]["not_modified"] == 1
        assert (again["spooled"], again["spool_added"], again["indexed"]) == (3, 0, 0)
        assert spool_files(settings) == batches

        proxy.heal()
        healed = run_cycle(env, feeds_file)
    assert healed["feeds"]["not_modified"] == 1  # the feed no longer carries them for us
    assert (healed["indexed"], healed["from_spool"], healed["spooled"]) == (3, 3, 0)
    assert healed["problems"] == []
    assert spool_files(settings) == []
    ids = stored_ids(client, settings)
    assert len(ids) == 3 and set(ids.values()) == {1}
    assert client.count(index=settings.index_name("deadletter"))["count"] == 0


def test_a_cluster_refusing_reads_with_429_is_an_overload_not_a_crash(world: Any) -> None:
    # Found while fixing finding 3: a 429 to the feed-state mget or the dedupe search raised a plain
    # IndexError_ and the cycle exited 1. It is now handled like an outage: spooled, exit 0.
    settings, client, feeds, env, tmp = world
    body = build_feeds(n_feeds=1, items_per_feed=2, syndicated=0)["feed0.xml"]
    feeds.route("/busy.xml", Response(body=body))
    feeds_file = tmp / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {feeds.url('/busy.xml')}\n")

    with ElasticsearchProxy(settings.es_url, fault=lambda _body: "429",
                            paths=("/_search", "/_mget")) as proxy:
        env = {**env, "NEWSFLOW_ES_URL": proxy.url}
        busy = run_cycle(env, feeds_file)
        assert (busy["indexed"], busy["spooled"], busy["spool_added"]) == (0, 2, 2)
        assert any("overloaded (HTTP 429" in p for p in busy["problems"])
        proxy.heal()
        healed = run_cycle(env, feeds_file)
    assert (healed["indexed"], healed["spooled"], healed["problems"]) == (2, 0, [])
    ids = stored_ids(client, settings)
    assert len(ids) == 2 and set(ids.values()) == {1}


def test_a_corrupt_spool_batch_is_quarantined_and_the_cycle_goes_on(world: Any) -> None:
    # Finding 7: one corrupt spool file made every cycle exit 1 with JSONDecodeError.
    from newsflow.index.spool import Spool
    from tests.index.articles import build_article

    settings, client, feeds, env, tmp = world
    spool = Spool(settings.spool_dir, settings.index.spool_max_bytes)
    good = build_article("spooled-good")
    spool.put([good])
    corrupt = {
        "00000000000000000001-truncated.json": b'[{"v": 1, "id": "abc", "docum',
        "00000000000000000002-shape.json": b'{"not": "a list"}',
        "00000000000000000003-invalid.json": json.dumps(
            [{"v": 1, "id": "no-date", "document": {"url": "https://example.org/x"}}]).encode(),
        "00000000000000000004-binary.json": b"\xff\xfe\x00garbage",
    }
    for name, payload in corrupt.items():
        (settings.spool_dir / name).write_bytes(payload)
    feeds.route("/empty.xml", Response(body=rss("empty", [])))
    feeds_file = tmp / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {feeds.url('/empty.xml')}\n")

    report = run_cycle({**env, "NEWSFLOW_ES_URL": settings.es_url}, feeds_file)

    assert report["indexed"] == 1 and report["from_spool"] == 1 and report["spooled"] == 0
    assert sorted(report["quarantined"]) == sorted(corrupt)
    for name in corrupt:
        assert any(name in problem for problem in report["problems"]), name
    assert any("invalid JSON" in p for p in report["problems"])
    assert any("does not validate" in p for p in report["problems"])
    quarantine = settings.spool_dir / "quarantine"
    for name, payload in corrupt.items():
        assert (quarantine / name).read_bytes() == payload  # kept as it was, for inspection
        assert (quarantine / f"{name}.reason").read_text().strip()
    assert spool_files(settings) == []
    assert stored_ids(client, settings) == Counter({good.id: 1})

    # The next cycle is clean: the quarantine is not read again.
    after = run_cycle({**env, "NEWSFLOW_ES_URL": settings.es_url}, feeds_file)
    assert after["problems"] == [] and after["quarantined"] == []


def test_during_an_outage_schedules_hold_nothing_is_spooled_twice_and_the_cache_reaches_elasticsearch(
    world: Any,
) -> None:
    # Finding 8: during an outage every cycle spooled the same articles again and polled every feed.
    settings, client, feeds, env, tmp = world
    bodies = build_feeds(n_feeds=2, items_per_feed=4, syndicated=0)
    for name, body in bodies.items():
        feeds.route(name, conditional(body, f'"{name}-v1"'))
    feeds_file = tmp / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(f"  - url: {feeds.url(n)}\n" for n in bodies))
    down = {**env, "NEWSFLOW_ES_URL": "http://127.0.0.1:9"}  # nothing listens on the discard port

    first = run_cycle(down, feeds_file, "--due")
    assert first["feeds"]["fetched"] == 2 and first["spooled"] == 8 and first["spool_added"] == 8
    assert any("unreachable" in p for p in first["problems"])
    polls = len(feeds.requests)

    # --due honours the schedules computed during the outage: nothing is due yet.
    scheduled = run_cycle(down, feeds_file, "--due")
    assert scheduled["feeds"]["fetched"] + scheduled["feeds"]["not_modified"] == 0
    assert len(feeds.requests) == polls

    # Every feed polled anyway: the validators kept locally make them conditional (304), and
    # nothing is spooled again.
    forced = run_cycle(down, feeds_file)
    assert forced["feeds"]["not_modified"] == 2
    assert forced["spool_added"] == 0 and forced["spooled"] == 8
    assert all(r.headers.get("If-None-Match") for r in feeds.requests[polls:])
    assert len(spool_files(settings)) == 1

    # Back: the spool is indexed once and the cached states (validators, next poll) reach
    # Elasticsearch, so --due keeps honouring them.
    back = {**env, "NEWSFLOW_ES_URL": settings.es_url}
    recovered = run_cycle(back, feeds_file, "--due")
    assert recovered["feeds"]["fetched"] + recovered["feeds"]["not_modified"] == 0
    assert (recovered["indexed"], recovered["from_spool"], recovered["spooled"]) == (8, 8, 0)
    assert recovered["problems"] == []
    from ingest.feeds import load_feeds
    from ingest.state import FeedStateStore

    specs = load_feeds(feeds_file)
    stored = FeedStateStore(client, settings).load(s.key for s in specs)
    assert {state.etag for state in stored.values()} == {f'"{n}-v1"' for n in bodies}
    assert all(state.next_due_at is not None for state in stored.values())
    ids = stored_ids(client, settings)
    assert len(ids) == 8 and set(ids.values()) == {1}


# The client retries a 429/503/reset/timeout twice itself before the store sees it: three faults in a
# row make one refused attempt of the store.
IN_A_ROW = ["429"] * 9 + ["503"] * 9 + ["reset"] * 9 + ["stall"] * 3
# Successes between the faults, so that some bulks of a cycle pass (the alert queue's, a feed-state
# save) and the next ones are refused past the store's retry (6 faults: 2 attempts of 3); "lost" bulks
# are applied by Elasticsearch but their answer never comes, so the cycle cannot know they succeeded.
INTERLEAVED = ["pass", *["429"] * 6, "pass", *["503"] * 6, "pass", *["lost"] * 6, "pass",
               *["reset"] * 6, "pass", *["stall"] * 3, "lost", "lost", "lost"]


@pytest.mark.parametrize("plan", [IN_A_ROW, INTERLEAVED], ids=["in-a-row", "interleaved"])
def test_bulk_faults_then_recovery_index_every_article_exactly_once(world: Any, plan: list[str]) -> None:
    """The issue's fault test: 429s, then 503s, then connection resets, then stalls past the client's
    timeout, to `_bulk` requests, then pass-through. Cycles run until the faults are over; indices
    roll over between cycles, so a late write must find an article where it already is."""
    from newsflow.index.setup import rollover

    settings, client, feeds, env, tmp = world
    bodies = build_feeds(n_feeds=3, items_per_feed=8, syndicated=2)
    for number, (name, body) in enumerate(bodies.items()):
        # Half the feeds answer conditional GETs, so spooled articles must survive a 304.
        feeds.route(name, conditional(body, f'"{name}"') if number % 2 else Response(body=body))
    feeds_file = tmp / "feeds.yaml"
    feeds_file.write_text("feeds:\n" + "".join(f"  - url: {feeds.url(n)}\n" for n in bodies))
    total = 3 * 8 + 2
    reports: list[dict[str, Any]] = []
    with ElasticsearchProxy(settings.es_url, plan=plan, stall_seconds=REQUEST_TIMEOUT + 1) as proxy:
        env = {**env, "NEWSFLOW_ES_URL": proxy.url}
        for cycle in range(12):
            faults_before = proxy.faults_left
            report = run_cycle(env, feeds_file)
            reports.append(report)
            if cycle < 2:
                rollover(client, settings)
            if faults_before == 0 and report["spooled"] == 0 and not report["problems"]:
                break
        faults = Counter(proxy.faults)
        bulk_requests = proxy.bulk_requests

    assert proxy.faults_left == 0, "the faults did not end within 12 cycles"
    assert faults == Counter(fault for fault in plan if fault != "pass")
    # Honest reports: whenever articles wait in the spool, the report says why.
    assert max(r["spooled"] for r in reports) > 0
    assert all(r["problems"] for r in reports if r["spooled"])
    assert all(r["not_kept"] == 0 for r in reports)
    assert reports[-1]["spooled"] == 0 and reports[-1]["problems"] == [] and spool_files(settings) == []
    ids = stored_ids(client, settings)
    assert len(ids) == total and set(ids.values()) == {1}
    assert client.count(index=settings.index_name("deadletter"))["count"] == 0
    indices = client.indices.get_alias(name=settings.index_name("articles"))
    assert len(indices) == 3  # the articles are spread over rolled indices, each id in one of them
    from newsflow.index.store import ArticleStore

    assert ArticleStore(client, settings).alert_pending() == []  # every article matched once indexed
    indexed = sum(r["indexed"] for r in reports)
    print(f"fault test: cycles={len(reports)} bulk_requests={bulk_requests} faults={dict(faults)} "
          f"articles={total} stored_once={len(ids)} indexed_writes={indexed} "
          f"spooled_per_cycle={[r['spooled'] for r in reports]} "
          f"spool_added_per_cycle={[r['spool_added'] for r in reports]} "
          f"indexed_per_cycle={[r['indexed'] for r in reports]} "
          f"problems_per_cycle={[len(r['problems']) for r in reports]}")
    for number, report in enumerate(reports):
        print(f"cycle {number}: {report['problems']}")
