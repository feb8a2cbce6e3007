"""Freshness, measured (`newsflow bench --airflow-latency`): publish-to-searchable and publish-to-alert.

A local feed server publishes new items at random moments (a Poisson process per feed) into a few
dozen RSS feeds, spread over several loopback addresses (127.0.0.2, 127.0.0.3, ...: three feeds per
host, so per-host politeness applies as it would to real publishers). Each feed declares how often it
may be polled (`Cache-Control: max-age` and `<ttl>`, default 60 s) and answers conditional GETs
(ETag) with 304 when nothing is new. A local Airflow of the benchmark's own (PostgreSQL, LocalExecutor)
runs `news_ingest` on its schedule (default every minute), whose `plan` polls only the feeds that are
due (the CLI's `--due`). One saved rule matches every published item and delivers to a webhook
receiver on 127.0.0.1, which timestamps each alert; a watcher searches Elasticsearch every 0.5 s for
the items not yet searchable.

Per item the timeline is: appeared (added to its feed) → polled (the first 200 response of its feed
that contained it) → searchable (found by a search) → alerted (its webhook POST received). The report
gives p50/p95/max of appeared→searchable and appeared→alert, the stages in between, the real poll
period of each feed (gaps between its requests), the DAG runs' durations and where in a run the feeds
are fetched: what bounds the latency.

Everything it starts (Airflow components, PostgreSQL, the feed servers, the webhook receiver) is
stopped by PID or shut down at the end, and the index prefix is deleted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from newsflow.core.settings import Settings
from newsflow.dev.bench import DEFAULT_CORPUS

if TYPE_CHECKING:
    from newsflow.dev.bench_push import PushRig

DEFAULT_FEEDS = 36  # "a few dozen"
DEFAULT_DURATION = 600.0  # seconds of publishing (the issue: at least 10 minutes)
# Mean seconds between two items of one feed. At 60 s the median of a feed's recent gaps (~42 s)
# stays below twice the publisher's interval, so the publisher's hint, not the observed frequency,
# sets the poll interval (ingest/schedule.py takes the larger of the hints and half the median gap).
DEFAULT_MEAN_GAP = 60.0
DEFAULT_PUBLISHER_INTERVAL = 60  # seconds the publisher allows between polls (max-age, <ttl> in minutes)
FEEDS_PER_HOST = 3
BACKLOG_ITEMS = 8  # items each feed holds before the measurement (its history, dated in the past)
FEED_WINDOW = 20  # items a feed shows (newest first)
SEARCH_EVERY = 0.5  # seconds between two searches for the items not yet searchable
CATEGORY = "newsflow-latency"  # every item carries it; the one saved rule matches it
RULE_NAME = "latency-every-item"
WEBHOOK_PATH = "/hook"


@dataclass(frozen=True, slots=True)
class LatencyBenchOptions:
    feeds: int = DEFAULT_FEEDS
    duration: float = DEFAULT_DURATION
    mean_gap: float = DEFAULT_MEAN_GAP
    publisher_interval: int = DEFAULT_PUBLISHER_INTERVAL
    schedule: str = "1m"  # NEWSFLOW_INGEST_SCHEDULE of the benchmark's Airflow
    corpus: Path = DEFAULT_CORPUS  # where the items' titles and summaries come from
    seed: int = 18
    # Seconds to wait, after the last publication, for the items still on their way.
    drain: float | None = None  # None: 2 poll intervals + 3 minutes
    output: Path | None = None
    # Feeds that announce a WebSub hub, on top of `feeds` (numbered after them): subscribed, pushed
    # at each publication, processed by `newsflow push process --watch` (newsflow/dev/bench_push.py).
    pushed: int = 0
    # What processes the pushes: "watch" (`newsflow push process --watch`) or "dag" (the news_push
    # DAG of the benchmark's Airflow, started by its AssetWatcher on the receiver's marker).
    push_processor: str = "watch"


# --- pure parts: the publication schedule, item timelines, percentiles, the report ----------------

def publication_schedule(feeds: int, duration: float, mean_gap: float, seed: int) -> list[tuple[float, int]]:
    """(offset in seconds from the start, feed number) of every item to publish, in time order: each
    feed an independent Poisson process with `mean_gap` seconds between items on average. Pure."""
    rng = random.Random(seed)
    events: list[tuple[float, int]] = []
    for feed in range(feeds):
        at = rng.expovariate(1.0 / mean_gap)
        while at < duration:
            events.append((round(at, 3), feed))
            at += rng.expovariate(1.0 / mean_gap)
    return sorted(events)


def backlog_offsets(items: int, mean_gap: float, rng: random.Random) -> list[float]:
    """Offsets (negative seconds, oldest first) of a feed's history before the start: the same
    process run backwards, so the observed gaps match the feed's rate. Pure given `rng`."""
    offsets: list[float] = []
    at = 0.0
    for _ in range(items):
        at -= rng.expovariate(1.0 / mean_gap)
        offsets.append(at)
    return sorted(offsets)


@dataclass(slots=True)
class ItemTimeline:
    """One published item: when it appeared and when each later step first saw it (epoch seconds)."""

    key: str  # the item's link, as stored in the article's `url`
    feed: int
    appeared_at: float
    measured: bool = True  # False: the backlog, published before the measurement
    polled_at: float | None = None  # its feed's first 200 response that contained it
    searchable_at: float | None = None
    alerted_at: float | None = None
    alerts: int = 0  # webhook POSTs received for it (more than 1: a duplicate delivery)
    story: str = ""  # its story_id once searchable
    # Never alerted because another item of its story was: alerts are one per (rule, story), and two
    # corpus articles may be copies of one story. Left out of the alert latency, counted apart.
    grouped: bool = False


class Timelines:
    """The bookkeeping of every item's timeline and every feed request; thread-safe, no I/O."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: dict[str, ItemTimeline] = {}
        self.requests: list[tuple[float, int, int]] = []  # (time, feed, HTTP status)
        self.unknown_alerts = 0
        self.alerted_stories: set[str] = set()

    def appeared(self, key: str, feed: int, at: float, *, measured: bool = True) -> None:
        with self._lock:
            self.items[key] = ItemTimeline(key, feed, at, measured)

    def served(self, feed: int, at: float, status: int, keys: Iterable[str] = ()) -> None:
        """A request for `feed` answered with `status` at `at`; `keys`: the items in the body."""
        with self._lock:
            self.requests.append((at, feed, status))
            if status == 200:
                for key in keys:
                    item = self.items.get(key)
                    if item is not None and item.polled_at is None and item.appeared_at <= at:
                        item.polled_at = at

    def pushed(self, keys: Iterable[str], at: float) -> None:
        """The hub pushed a document holding `keys` at `at` (the pushed feeds' "polled")."""
        with self._lock:
            for key in keys:
                item = self.items.get(key)
                if item is not None and item.polled_at is None and item.appeared_at <= at:
                    item.polled_at = at

    def searchable(self, found: Mapping[str, str], at: float) -> None:
        """Items found by a search at `at`: key → story_id."""
        with self._lock:
            for key, story in found.items():
                item = self.items.get(key)
                if item is not None and item.searchable_at is None:
                    item.searchable_at, item.story = at, story

    def alerted(self, key: str, at: float, story: str = "") -> bool:
        """An alert for `key` (of `story`) received at `at`; False when no published item has that key."""
        with self._lock:
            if story:
                self.alerted_stories.add(story)
            item = self.items.get(key)
            if item is None:
                self.unknown_alerts += 1
                return False
            item.alerts += 1
            if item.alerted_at is None:
                item.alerted_at = at
            return True

    def not_searchable(self) -> list[str]:
        with self._lock:
            return [key for key, item in self.items.items() if item.searchable_at is None]

    def _grouped(self, item: ItemTimeline) -> bool:
        return item.alerted_at is None and bool(item.story) and item.story in self.alerted_stories

    def snapshot(self) -> list[ItemTimeline]:
        with self._lock:
            return [ItemTimeline(i.key, i.feed, i.appeared_at, i.measured, i.polled_at, i.searchable_at,
                                 i.alerted_at, i.alerts, i.story, self._grouped(i))
                    for i in self.items.values()]

    def settled(self, *, measured: bool) -> bool:
        """Whether every item of the group has been alerted (or its story has, by another item)."""
        with self._lock:
            return all(i.alerted_at is not None or self._grouped(i)
                       for i in self.items.values() if i.measured == measured)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks (numpy's default). Pure."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """count, p50, p95, max, mean (seconds, rounded to 0.1 s); only the count when empty. Pure."""
    if not values:
        return {"count": 0}
    return {"count": len(values), "p50": round(percentile(values, 50), 1),
            "p95": round(percentile(values, 95), 1), "max": round(max(values), 1),
            "mean": round(sum(values) / len(values), 1)}


def _between(start: float | None, end: float | None) -> float | None:
    return end - start if start is not None and end is not None else None


def latency_report(items: Sequence[ItemTimeline]) -> dict[str, Any]:
    """The latency figures of the items' timelines: appeared→searchable, appeared→alert and the
    stages between (appeared→polled: waiting for the feed's next poll; polled→searchable: the
    shard's pipeline and Elasticsearch's refresh; searchable→alert: the rest of the shard, the
    scheduling gap, the alerts task, percolation and delivery). Pure."""
    stages: dict[str, tuple[str, str]] = {
        "appeared_to_searchable": ("appeared_at", "searchable_at"),
        "appeared_to_alert": ("appeared_at", "alerted_at"),
        "appeared_to_polled": ("appeared_at", "polled_at"),
        "polled_to_searchable": ("polled_at", "searchable_at"),
        "searchable_to_alert": ("searchable_at", "alerted_at"),
        "polled_to_alert": ("polled_at", "alerted_at"),
    }
    report: dict[str, Any] = {}
    for name, (start, end) in stages.items():
        values = [v for v in (_between(getattr(i, start), getattr(i, end)) for i in items) if v is not None]
        report[name] = summary(values)
    report["items"] = len(items)
    report["never_polled"] = sum(1 for i in items if i.polled_at is None)
    report["never_searchable"] = sum(1 for i in items if i.searchable_at is None)
    report["never_alerted"] = sum(1 for i in items if i.alerted_at is None and not i.grouped)
    report["grouped_into_an_alerted_story"] = sum(1 for i in items if i.grouped)
    report["alerted_more_than_once"] = sum(1 for i in items if i.alerts > 1)
    return report


def poll_gaps(requests: Iterable[tuple[float, int, int]], since: float = 0.0,
              interval: float | None = None) -> dict[str, Any]:
    """The real poll period: gaps between consecutive requests for one feed (from `since` on),
    over every feed; how many requests were answered 200 and 304; with `interval`, how many gaps
    were longer than 1.5 intervals (a scheduled run that found the feed not yet due). Pure."""
    by_feed: dict[int, list[float]] = {}
    statuses: dict[str, int] = {}
    for at, feed, status in requests:
        if at < since:
            continue
        by_feed.setdefault(feed, []).append(at)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    gaps = [b - a for times in map(sorted, by_feed.values()) for a, b in itertools.pairwise(times)]
    report: dict[str, Any] = {"gap_seconds": summary(gaps), "requests_by_status": statuses}
    if interval:
        report["gaps_longer_than_1.5_intervals"] = sum(1 for gap in gaps if gap > 1.5 * interval)
    return report


def run_summary(runs: Sequence[Mapping[str, Any]],
                requests: Sequence[tuple[float, int, int]]) -> dict[str, Any]:
    """The DAG runs (epoch seconds `after`, `started`, `ended`, from the REST API's run_after,
    start_date, end_date): their duration, the delay from the schedule's moment to the start, and
    within each run when the feed server saw the first and last request of the run (from the run's
    start): the plan, the scheduling gap and the shard's start-up before the first fetch; politeness
    and the fetches themselves between first and last. Pure."""
    durations, start_lags, first_fetch, fetch_spread, per_run = [], [], [], [], []
    for run in runs:
        started, ended = run.get("started"), run.get("ended")
        if started is None or ended is None:
            continue
        durations.append(ended - started)
        if run.get("after") is not None:
            start_lags.append(started - run["after"])
        inside = sorted(at for at, _feed, _status in requests if started <= at <= ended)
        row: dict[str, Any] = {"run_id": run.get("run_id"), "state": run.get("state"),
                               "duration_seconds": round(ended - started, 1), "requests": len(inside)}
        if inside:
            first_fetch.append(inside[0] - started)
            fetch_spread.append(inside[-1] - inside[0])
            row["first_request_after_start_seconds"] = round(inside[0] - started, 1)
            row["request_spread_seconds"] = round(inside[-1] - inside[0], 1)
        per_run.append(row)
    return {"runs": len(durations), "duration_seconds": summary(durations),
            "start_after_schedule_seconds": summary(start_lags),
            "first_request_after_start_seconds": summary(first_fetch),
            "request_spread_seconds": summary(fetch_spread), "per_run": per_run}


PUSHED_P95_GOAL = 10.0  # seconds, publish-to-alert of a pushed feed (issue 21)


def pushed_goal(alert: Mapping[str, Any]) -> dict[str, bool]:
    """Issue 21's goal: a pushed feed's publish-to-alert p95 ≤ 10 s (none measured: not met). Pure."""
    return {"pushed_alert_p95_within_10s": bool(alert.get("count")) and alert["p95"] <= PUSHED_P95_GOAL}


def side_by_side(polled: Mapping[str, Any], pushed: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """count, p50, p95, max of publish-to-searchable and publish-to-alert, polled vs pushed. Pure."""
    keep = ("count", "p50", "p95", "max")
    return {f"{path}_{stage}": {k: report[stage].get(k) for k in keep}
            for path, report in (("polled", polled), ("pushed", pushed))
            for stage in ("appeared_to_searchable", "appeared_to_alert")}


def latency_goals(alert: Mapping[str, Any], interval: float) -> dict[str, bool]:
    """The issue's goal: publish-to-alert p95 ≤ interval + 30 s, p50 ≤ interval / 2 + 20 s. Pure."""
    if not alert.get("count"):
        return {"alert_p95_within_interval_plus_30s": False, "alert_p50_within_half_interval_plus_20s": False}
    return {"alert_p95_within_interval_plus_30s": alert["p95"] <= interval + 30,
            "alert_p50_within_half_interval_plus_20s": alert["p50"] <= interval / 2 + 20}


# --- the servers: feeds that grow, and a webhook receiver ------------------------------------------

@dataclass(slots=True)
class _Item:
    key: str
    title: str
    summary: str
    published: datetime


@dataclass(slots=True)
class _Feed:
    number: int
    items: list[_Item] = field(default_factory=list)  # newest last
    version: int = 0


class FeedFarm:
    """Feeds on several loopback addresses (`FEEDS_PER_HOST` per host), each an RSS document that
    grows when `publish` is called; every request is recorded in `timelines`."""

    def __init__(self, feeds: int, timelines: Timelines, interval: int) -> None:
        self.timelines = timelines
        self.interval = interval
        self._feeds = [_Feed(n) for n in range(feeds)]
        self.hubs: dict[int, str] = {}  # feed number -> the WebSub hub it announces
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.bases: list[str] = []  # http://127.0.0.N:port per host

    def start(self) -> None:
        farm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                farm._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        hosts = math.ceil(len(self._feeds) / FEEDS_PER_HOST)
        for host in range(hosts):
            server = ThreadingHTTPServer((f"127.0.0.{host + 2}", 0), Handler)
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
            self.bases.append(f"http://127.0.0.{host + 2}:{server.server_address[1]}")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def url(self, feed: int) -> str:
        return f"{self.bases[feed // FEEDS_PER_HOST]}/feed-{feed:03d}.xml"

    def item_key(self, feed: int, number: int) -> str:
        return f"{self.bases[feed // FEEDS_PER_HOST]}/news/f{feed:03d}-{number:05d}"

    def publish(self, feed: int, number: int, title: str, summary: str, *, published: datetime | None = None,
                measured: bool = True) -> str:
        """Add an item to `feed` now (dated `published`, default now); its key (link)."""
        key = self.item_key(feed, number)
        with self._lock:
            now = time.time()
            stamp = published or datetime.fromtimestamp(now, UTC)
            state = self._feeds[feed]
            state.items.append(_Item(key, title, summary, stamp))
            state.version += 1
            self.timelines.appeared(key, feed, now, measured=measured)
        return key

    def document(self, feed: int) -> tuple[bytes, list[str]]:
        """The feed's document as a poll would get it now, and the keys of the items it shows (what
        its hub pushes)."""
        with self._lock:
            shown = self._feeds[feed].items[-FEED_WINDOW:]
            return self._render(self._feeds[feed], shown, time.time()), [i.key for i in shown]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        if path == "/robots.txt":
            self._send(handler, 200, b"User-agent: *\nAllow: /\n", "text/plain")
            return
        name = path.rsplit("/", 1)[-1]
        if not (name.startswith("feed-") and name.endswith(".xml")):
            self._send(handler, 404, b"not found", "text/plain")
            return
        try:
            number = int(name[5:-4])
            feed = self._feeds[number]
        except (ValueError, IndexError):
            self._send(handler, 404, b"not found", "text/plain")
            return
        with self._lock:
            at = time.time()
            etag = f'"f{feed.number}-v{feed.version}"'
            shown = feed.items[-FEED_WINDOW:]
            if handler.headers.get("If-None-Match") == etag:
                self.timelines.served(feed.number, at, 304)
                body, status = b"", 304
            else:
                self.timelines.served(feed.number, at, 200, [i.key for i in shown])
                body, status = self._render(feed, shown, at), 200
        self._send(handler, status, body, "application/rss+xml; charset=utf-8", etag=etag)

    def _render(self, feed: _Feed, shown: Sequence[_Item], at: float) -> bytes:
        built = format_datetime(datetime.fromtimestamp(at, UTC), usegmt=True)
        entries = "".join(
            f"<item><title>{escape(i.title)}</title><link>{escape(i.key)}</link>"
            f"<guid isPermaLink=\"true\">{escape(i.key)}</guid>"
            f"<pubDate>{format_datetime(i.published, usegmt=True)}</pubDate>"
            f"<category>{CATEGORY}</category><description>{escape(i.summary)}</description></item>"
            for i in reversed(shown))
        hub = self.hubs.get(feed.number)
        links = (f'<atom:link rel="hub" href="{escape(hub)}"/>'
                 f'<atom:link rel="self" href="{escape(self.url(feed.number))}"/>') if hub else ""
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                f'xmlns:atom="http://www.w3.org/2005/Atom"><channel>{links}'
                f"<title>Latency feed {feed.number}</title><link>{self.url(feed.number)}</link>"
                f"<description>newsflow latency benchmark</description><lastBuildDate>{built}</lastBuildDate>"
                f"<ttl>{max(1, self.interval // 60)}</ttl>{entries}</channel></rss>").encode()

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
              *, etag: str | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Cache-Control", f"max-age={self.interval}")
        if etag:
            handler.send_header("ETag", etag)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)


@contextmanager
def webhook_receiver(timelines: Timelines) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that timestamps each alert POSTed to it (by its article's url)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            at = time.time()
            article: dict[str, Any] = {}
            try:
                payload = json.loads(body)
                article = payload.get("article") or {}
                article.setdefault("story_id", payload.get("story_id"))
                key = str(article.get("url") or "")
            except (ValueError, AttributeError):
                key = ""
            story = str(article.get("story_id") or "")
            if not timelines.alerted(key, at, story) and article.get("guid"):
                timelines.alerted(str(article["guid"]), at, story)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}"
    finally:
        server.shutdown()
        server.server_close()


class SearchWatcher:
    """Searches the articles alias every SEARCH_EVERY seconds for the items not yet searchable."""

    def __init__(self, client: Any, index: str, timelines: Timelines) -> None:
        self._client, self._index, self._timelines = client, index, timelines
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors = 0

    def __enter__(self) -> SearchWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(SEARCH_EVERY):
            pending = self._timelines.not_searchable()
            for start in range(0, len(pending), 1000):
                chunk = pending[start:start + 1000]
                try:
                    response = self._client.options(ignore_status=404).search(
                        index=self._index, query={"terms": {"url": chunk}}, source=["url", "story_id"],
                        size=len(chunk))
                except Exception:
                    self.errors += 1
                    continue
                hits = (response.get("hits") or {}).get("hits", [])
                found = {hit["_source"]["url"]: str(hit["_source"].get("story_id") or "") for hit in hits}
                self._timelines.searchable(found, time.time())


# --- the benchmark --------------------------------------------------------------------------------

def item_texts(corpus: Path, count: int, seed: int) -> list[tuple[str, str]]:
    """`count` (title, summary) pairs of real articles from the corpus, distinct titles, shuffled."""
    from newsflow.dev.bench import BenchOptions, parsed_articles, select_feed_files

    files = select_feed_files(BenchOptions(corpus=corpus, news_only=True))
    rng = random.Random(seed)
    texts: list[tuple[str, str]] = []
    seen: set[str] = set()
    for start in range(0, len(files), 40):
        for article in parsed_articles(files[start:start + 40]):
            title = article.title.strip()
            fingerprint = hashlib.sha1(title.lower().encode()).hexdigest()
            if len(title) < 20 or len(article.summary) < 80 or fingerprint in seen:
                continue
            seen.add(fingerprint)
            texts.append((title, article.summary[:1200]))
        if len(texts) >= count:
            break
    if len(texts) < count:
        raise FileNotFoundError(f"the corpus under {corpus} has {len(texts)} usable articles, {count} needed")
    rng.shuffle(texts)
    return texts[:count]


def run_latency_bench(options: LatencyBenchOptions, settings: Settings,
                      say: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
                      ) -> dict[str, Any]:
    import httpx

    from newsflow.alerts.rules import RuleStore
    from newsflow.app.indices import ensure_all
    from newsflow.core.es import make_client
    from newsflow.dev.local_airflow import LocalAirflow, default_parallelism
    from newsflow.index.cleanup import delete_prefix

    total = options.feeds + options.pushed  # feed numbers from options.feeds on are pushed
    schedule = publication_schedule(total, options.duration, options.mean_gap, options.seed)
    rng = random.Random(options.seed + 1)
    texts = item_texts(options.corpus, len(schedule) + total * BACKLOG_ITEMS, options.seed)
    prefix = f"benchlat{uuid.uuid4().hex[:6]}"
    client = make_client(settings)
    timelines = Timelines()
    farm = FeedFarm(total, timelines, options.publisher_interval)
    drain = options.drain if options.drain is not None else 2 * options.publisher_interval + 180
    results: dict[str, Any] = {
        "feeds": options.feeds, "pushed_feeds": options.pushed, "push_processor": options.push_processor,
        "hosts": math.ceil(total / FEEDS_PER_HOST),
        "duration_seconds": options.duration, "mean_gap_seconds": options.mean_gap,
        "publisher_interval_seconds": options.publisher_interval, "schedule": options.schedule,
        "planned_items": len(schedule), "seed": options.seed, "cores": os.cpu_count(),
        "airflow_parallelism": default_parallelism(), "index_prefix": prefix,
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "settings": {"fetch.min_interval": options.publisher_interval, "fetch.politeness_delay": 1.0,
                     "fetch.per_host_concurrency": 2, "search_every_seconds": SEARCH_EVERY},
    }
    scratch = Path(tempfile.mkdtemp(prefix="nf-latbench-"))
    scratch.chmod(0o755)  # as root PostgreSQL runs as another user, which must reach its cluster
    airflow: LocalAirflow | None = None
    rig: PushRig | None = None
    number = 0
    try:
        farm.start()
        started_at = time.time()
        for feed in range(total):  # the history: ingested by the first run, not measured
            for offset in backlog_offsets(BACKLOG_ITEMS, options.mean_gap, rng):
                title, text = texts[number]
                farm.publish(feed, number, title, text, measured=False,
                             published=datetime.fromtimestamp(started_at + offset, UTC))
                number += 1
        feeds_file = scratch / "feeds.yaml"
        feeds_file.write_text("feeds:\n" + "".join(f"  - url: {farm.url(n)}\n" for n in range(total)))
        home = scratch / "home"
        home.mkdir()
        bench_settings = settings.model_copy(update={"index_prefix": prefix, "home": home,
                                                     "feeds_file": feeds_file})
        ensure_all(client, bench_settings)
        with webhook_receiver(timelines) as hook, SearchWatcher(
                client, bench_settings.index_name("articles"), timelines):
            RuleStore(client, bench_settings).add(RULE_NAME, f'categories:"{CATEGORY}"', [f"webhook:{hook}"])
            if options.pushed:
                from newsflow.dev.bench_push import PushRig

                rig = PushRig(bench_settings, feeds_file, scratch, say)
                farm.hubs = {n: rig.hub.url for n in range(options.feeds, total)}
                say(f"starting the pushed path: hub, 'newsflow push serve', 'newsflow push process --watch' "
                    f"({options.pushed} pushed feeds)")
                rig.start(watch=options.push_processor == "watch")
                rig.subscribe([farm.url(n) for n in range(options.feeds, total)])
            airflow = LocalAirflow(bench_settings, say=say, schedule=options.schedule, extra_env={
                "NEWSFLOW_ES_URL": settings.es_url,
                # The feed servers listen on 127.0.0.x, which the address policy refuses by default.
                "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
                # The floor of an interval the publisher declares (default 5 min): as often as it allows.
                "NEWSFLOW_FETCH__MIN_INTERVAL": str(options.publisher_interval),
                # One processor of the pushes: --watch, or news_push on the receiver's marker.
                "NEWSFLOW_PUSH_SCHEDULE": "event" if options.pushed and options.push_processor == "dag"
                else "none",
            })
            say(f"starting a local Airflow of the benchmark's own (schedule {options.schedule}, "
                f"prefix {prefix})")
            began = time.perf_counter()
            airflow.up()
            results["airflow_start_seconds"] = round(time.perf_counter() - began, 1)
            with httpx.Client(base_url=airflow.url, timeout=30.0,
                              headers={"Authorization": f"Bearer {airflow.token()}"}) as api:
                airflow._wait_for_dag(api, "news_ingest", timeout=300.0)
                api.patch("/api/v2/dags/news_ingest", json={"is_paused": False}).raise_for_status()
                if options.pushed and options.push_processor == "dag":
                    airflow._wait_for_dag(api, "news_push", timeout=300.0)
                    api.patch("/api/v2/dags/news_push", json={"is_paused": False}).raise_for_status()
            say(f"waiting for the first scheduled runs to ingest and alert the backlog "
                f"({total * BACKLOG_ITEMS} items)")
            warm_deadline = time.monotonic() + 600
            while not timelines.settled(measured=False) and time.monotonic() < warm_deadline:
                time.sleep(1.0)
            backlog_done = time.time()
            results["backlog_settled_after_seconds"] = round(backlog_done - started_at, 1)
            say(f"publishing {len(schedule)} items into {total} feeds over {options.duration:.0f} s")
            t0 = time.time()
            loads = [os.getloadavg()[0]]
            for offset, feed in schedule:
                while (wait := t0 + offset - time.time()) > 0:
                    time.sleep(min(wait, 5.0))
                    loads.append(os.getloadavg()[0])
                title, text = texts[number]
                farm.publish(feed, number, title, text)
                number += 1
                if rig is not None and feed >= options.feeds:
                    body, keys = farm.document(feed)
                    rig.push(farm.url(feed), body,
                             lambda at, ok, keys=keys: timelines.pushed(keys, at) if ok else None)
            published_until = time.time()
            say(f"waiting up to {drain:.0f} s for the items still on their way")
            drain_deadline = time.monotonic() + drain
            while not timelines.settled(measured=True) and time.monotonic() < drain_deadline:
                time.sleep(1.0)
                loads.append(os.getloadavg()[0])
            ended_at = time.time()
            runs = _dag_runs(airflow, settle=180.0)
            states = _feed_intervals(client, bench_settings)
    finally:
        if rig is not None:
            results["push_processes_exit"] = rig.stop()
            results["push_counts"] = rig.counts()
        if airflow is not None:
            say("stopping the benchmark's Airflow and PostgreSQL")
            airflow.down()
        farm.stop()
        delete_prefix(client, prefix)
        client.close()
        shutil.rmtree(scratch, ignore_errors=True)

    items = timelines.snapshot()
    measured = [i for i in items if i.measured and i.feed < options.feeds]
    pushed = [i for i in items if i.measured and i.feed >= options.feeds]
    report = latency_report(measured)
    # The runs of the measurement: those still going at its start or later (not the backlog's).
    window = [r for r in runs if r.get("started") is not None and r["started"] <= ended_at
              and (r.get("ended") is None or r["ended"] >= t0)]
    results.update({
        "measured_seconds": round(ended_at - t0, 1), "published_seconds": round(published_until - t0, 1),
        "load_average_during": {"min": round(min(loads), 2), "mean": round(sum(loads) / len(loads), 2),
                                "max": round(max(loads), 2)},
        "latency": report,
        "backlog_first_runs": latency_report([i for i in items if not i.measured]),
        "poll_period": poll_gaps([r for r in timelines.requests if r[1] < options.feeds], since=t0,
                                 interval=options.publisher_interval),
        "assigned_poll_interval_seconds": summary(states),
        "dag_runs": run_summary(window, timelines.requests),
        "unknown_alerts": timelines.unknown_alerts,
    })
    results["goals"] = latency_goals(report["appeared_to_alert"], options.publisher_interval)
    if options.pushed:
        pushed_report = latency_report(pushed)
        results["pushed_latency"] = pushed_report
        # Requests for the pushed feeds after the first poll: their safety poll (1 day) keeps them out.
        results["pushed_feeds_requests_during_measurement"] = sum(
            1 for at, feed, _status in timelines.requests if feed >= options.feeds and at >= t0)
        results["goals"].update(pushed_goal(pushed_report["appeared_to_alert"]))
        results["side_by_side"] = side_by_side(report, pushed_report)
    if options.output is not None:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _epoch(value: object) -> float | None:
    return datetime.fromisoformat(value).timestamp() if isinstance(value, str) and value else None


def _dag_runs(airflow: Any, settle: float) -> list[dict[str, Any]]:
    """Every news_ingest run: run_id, state and its run_after/start/end as epoch seconds. The DAG
    is paused first, and the run still going (the one that delivered the last alerts) is waited
    for, up to `settle` seconds."""
    import httpx

    with httpx.Client(base_url=airflow.url, timeout=60.0,
                      headers={"Authorization": f"Bearer {airflow.token()}"}) as api:
        api.patch("/api/v2/dags/news_ingest", json={"is_paused": True}).raise_for_status()
        deadline = time.monotonic() + settle
        while True:
            response = api.get("/api/v2/dags/news_ingest/dagRuns",
                               params={"limit": 500, "order_by": "start_date"})
            response.raise_for_status()
            rows = response.json().get("dag_runs", [])
            if time.monotonic() > deadline or all(r.get("state") in ("success", "failed") for r in rows):
                break
            time.sleep(2.0)
    return [{"run_id": row.get("dag_run_id"), "state": row.get("state"),
             "after": _epoch(row.get("run_after") or row.get("data_interval_end")),
             "started": _epoch(row.get("start_date")), "ended": _epoch(row.get("end_date"))} for row in rows]


def _feed_intervals(client: Any, settings: Settings) -> list[float]:
    """Per feed, the interval its last poll set: next_due_at minus last_fetched_at (seconds)."""
    from ingest.state import FeedStateStore

    intervals = []
    for state in FeedStateStore(client, settings).load_all():
        if state.next_due_at is not None and state.last_fetched_at is not None:
            intervals.append((state.next_due_at - state.last_fetched_at).total_seconds())
    return intervals
