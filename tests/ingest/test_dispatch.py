"""The order of a feeds file does not decide a poll's speed: the global fetch slots go to feeds whose
host may be requested now, so a file listing each host's feeds together keeps every host busy,
while each host stays exactly as polite (delay, per-host concurrency, Crawl-delay, FIFO)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.fetch import HostSlots
from ingest.poll import poll_feeds
from ingest.types import FeedSpec
from tests.ingest.conftest import item, rss
from tests.support.feedserver import FeedServer, RecordedRequest, Response

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
HOSTS = 8
FEEDS_PER_HOST = 8
DELAY = 0.5


@dataclass(frozen=True)
class Arrival:
    host: str
    path: str
    at: float


class Farm:
    """One real feed server per loopback address (127.0.0.2 ... each bound explicitly), all logging
    into one request log."""

    def __init__(self, servers: list[FeedServer]) -> None:
        self.servers = servers
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()

    def feed(self, server: FeedServer, n: int) -> str:
        host = server.base_url.split("//", 1)[1].split(":", 1)[0]

        def respond(request: RecordedRequest) -> Response:
            with self._lock:
                self.arrivals.append(Arrival(host, request.path, time.monotonic()))
            return Response(body=rss(item(n)), headers={"Content-Type": "application/rss+xml"})

        return server.route(f"/section{n}.xml", respond)

    def arrivals_by_host(self) -> dict[str, list[Arrival]]:
        ordered = sorted(self.arrivals, key=lambda a: a.at)
        return {host: [a for a in ordered if a.host == host] for host in {a.host for a in ordered}}


@pytest.fixture
def farm() -> Iterator[Farm]:
    servers = [FeedServer(host=f"127.0.0.{2 + h}") for h in range(HOSTS)]
    for server in servers:
        server.__enter__()
    try:
        yield Farm(servers)
    finally:  # shut down together: each shutdown waits up to half a second for its server's loop
        stopping = [threading.Thread(target=server.__exit__, args=(None, None, None)) for server in servers]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()


def grouped_urls(farm: Farm) -> list[list[str]]:
    """Each host's section feeds, as a publisher lists them."""
    return [[farm.feed(server, n) for n in range(FEEDS_PER_HOST)] for server in farm.servers]


def timed_poll(urls: list[str], settings: Any) -> tuple[float, list[Any]]:
    started = time.monotonic()
    results = poll_feeds([FeedSpec(url=url) for url in urls], {}, settings, now=NOW)
    return time.monotonic() - started, results


def test_a_feeds_file_grouped_by_host_polls_as_fast_as_an_interleaved_one(
        farm: Farm, fetch_settings: Callable[..., Any]) -> None:
    settings = fetch_settings(politeness_delay=DELAY, per_host_concurrency=1, concurrency=HOSTS)
    by_host = grouped_urls(farm)
    grouped = [url for urls in by_host for url in urls]

    grouped_time, results = timed_poll(grouped, settings)
    assert [r.spec.url for r in results] == grouped  # one result per spec, in input order
    assert [r.status for r in results] == ["fetched"] * len(grouped)
    # The first request of every host went out at once, not the first host's feeds one by one.
    first_wave = sorted(farm.arrivals, key=lambda a: a.at)[:HOSTS]
    assert len({a.host for a in first_wave}) >= HOSTS - 2  # blocked by the first host, it was 2
    # (within two delays: a loaded machine may be slow to start eight requests; head-of-line
    # blocking would take HOSTS delays)
    assert first_wave[-1].at - first_wave[0].at < 2 * DELAY
    # Every host stayed polite: its feeds in file order, never two requests closer than the delay.
    for host, arrivals in farm.arrivals_by_host().items():
        assert [a.path for a in arrivals] == [f"/section{n}.xml" for n in range(FEEDS_PER_HOST)], host
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(arrivals)]
        assert min(gaps) >= DELAY * 0.9, (host, gaps)

    farm.arrivals.clear()
    interleaved = [url for wave in zip(*by_host, strict=True) for url in wave]
    interleaved_time, results = timed_poll(interleaved, settings)
    assert [r.status for r in results] == ["fetched"] * len(interleaved)
    # Grouped and interleaved are the same work under the same politeness: about
    # FEEDS_PER_HOST x DELAY each (head-of-line blocking made the grouped one HOSTS times slower).
    ratio = grouped_time / interleaved_time
    assert 1 / 1.5 <= ratio <= 1.5, (grouped_time, interleaved_time)  # blocked, it was about 8


def test_a_feed_waiting_for_its_host_holds_no_global_slot(
        farm: Farm, fetch_settings: Callable[..., Any]) -> None:
    busy, other = farm.servers[0], farm.servers[1]
    urls = [farm.feed(busy, n) for n in range(4)] + [farm.feed(other, 99)]
    settings = fetch_settings(politeness_delay=DELAY, per_host_concurrency=1, concurrency=2)
    _, results = timed_poll(urls, settings)
    assert [r.status for r in results] == ["fetched"] * 5
    ordered = sorted(farm.arrivals, key=lambda a: a.at)
    # The last-listed feed of the second host went out within the first host's first delay (on a
    # loaded machine it may even go out first): it never waited behind the first host's queue.
    assert "/section99.xml" in {ordered[0].path, ordered[1].path}, [a.path for a in ordered]
    assert ordered[1].at - ordered[0].at < DELAY


# --- the host slots the dispatcher reserves (pure timing logic, no network) ---------------------

def test_a_host_is_reserved_only_when_free_and_past_its_delay() -> None:
    async def scenario() -> None:
        slots = HostSlots(per_host=1, delay=0.2)
        now = time.monotonic()
        first = slots.reserve("a.example", now)
        assert first is not None
        assert slots.reserve("a.example", now) is None  # busy
        first.release()
        first.release()  # idempotent: one release frees one slot
        assert slots.reserve("a.example", time.monotonic()) is None  # within the delay
        ready = slots.ready_at("a.example")
        assert ready is not None and ready >= now + 0.2
        assert slots.reserve("a.example", ready) is not None
        assert slots.reserve("b.example", now) is not None  # another host is independent

    asyncio.run(scenario())


def test_a_crawl_delay_spaces_reservations_further() -> None:
    async def scenario() -> None:
        slots = HostSlots(per_host=2, delay=0.1)
        slots.slow_down("a.example", 5.0)
        now = time.monotonic()
        assert slots.reserve("a.example", now) is not None
        assert slots.reserve("a.example", now + 1.0) is None  # a slot is free, the delay is not over
        assert slots.ready_at("a.example") == pytest.approx(now + 5.0)

    asyncio.run(scenario())


def test_a_running_feeds_request_goes_before_a_new_feed() -> None:
    async def scenario() -> None:
        slots = HostSlots(per_host=1, delay=0.0)
        held = slots.reserve("a.example", time.monotonic())
        assert held is not None
        waiting = asyncio.create_task(slots.acquire("a.example"))  # a retry of a running feed
        await asyncio.sleep(0)
        assert slots.ready_at("a.example") is None  # nothing reservable while it waits
        held.release()
        await waiting  # the slot went straight to the waiting request
        assert slots.reserve("a.example", time.monotonic()) is None
        slots.release("a.example")
        assert slots.reserve("a.example", time.monotonic()) is not None

    asyncio.run(scenario())


def test_a_cancelled_wait_for_a_host_gives_its_slot_back() -> None:
    async def scenario() -> None:
        slots = HostSlots(per_host=1, delay=0.0)
        held = slots.reserve("a.example", time.monotonic())
        assert held is not None
        waiting = asyncio.create_task(slots.acquire("a.example"))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        held.release()
        assert slots.reserve("a.example", time.monotonic()) is not None

    asyncio.run(scenario())
