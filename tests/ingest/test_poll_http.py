"""Polling feeds over real HTTP (a local server): conditional GET, redirects, limits, retries, bad
input, and the address policy. Every failure is a recorded reason; the poll goes on."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpcore
import pytest

import ingest.poll
from ingest.poll import poll_feeds
from ingest.schedule import select_due
from ingest.types import FeedResult, FeedSpec
from tests.ingest.conftest import item, rss
from tests.support.feedserver import FeedServer, RecordedRequest, Response

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
FEED = rss(item(1), item(2), item(3))


def poll_one(url: str, settings: Any, state: Any = None) -> FeedResult:
    spec = FeedSpec(url=url)
    states = {spec.key: state} if state is not None else {}
    [result] = poll_feeds([spec], states, settings, now=NOW)
    return result


def validating(body: bytes, etag: str = '"v1"', modified: str = "Tue, 05 Mar 2024 10:00:00 GMT"
               ) -> Callable[[RecordedRequest], Response]:
    """A route that answers 304 to a request carrying its validators, like a real server."""
    def respond(request: RecordedRequest) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body=body, headers={"ETag": etag, "Last-Modified": modified,
                                            "Content-Type": "application/rss+xml"})
    return respond


def test_second_poll_of_an_unchanged_feed_is_conditional_and_parses_nothing(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    url = feed_server.route("/world.xml", validating(FEED))
    settings = fetch_settings()
    first = poll_one(url, settings)
    assert first.status == "fetched" and len(first.articles) == 3

    parsed: list[str] = []
    real_parse = ingest.poll.Parser.parse

    async def counting_parse(self: Any, spec: FeedSpec, *args: Any) -> Any:  # a spy: the real parser runs
        parsed.append(spec.url)
        return await real_parse(self, spec, *args)

    # Parser.parse runs in this process (the parse itself in a worker process): spy there.
    monkeypatch.setattr(ingest.poll.Parser, "parse", counting_parse)
    second = poll_one(url, settings, first.state)

    sent = feed_server.requests_to("/world.xml")[-1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Tue, 05 Mar 2024 10:00:00 GMT"
    assert second.status == "not_modified" and second.http_status == 304
    assert second.articles == () and parsed == []
    assert second.state.etag == '"v1"' and second.state.consecutive_failures == 0


def test_a_not_modified_feed_keeps_the_polling_interval_its_last_body_declared(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/ttl.xml", validating(rss(item(1), extra="<ttl>120</ttl>")))
    settings = fetch_settings()
    first = poll_one(url, settings)
    second = poll_one(url, settings, first.state)
    assert second.status == "not_modified"
    assert first.state.next_due_at == second.state.next_due_at == NOW + timedelta(hours=2)


def test_requests_carry_the_descriptive_user_agent_and_accept_compression(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/gz.xml", Response(body=gzip.compress(FEED),
                                                headers={"Content-Encoding": "gzip"}))
    result = poll_one(url, fetch_settings(user_agent="newsflow-test/1.0 (+https://example.org)"))
    headers = feed_server.requests_to("/gz.xml")[0].headers
    assert headers["User-Agent"] == "newsflow-test/1.0 (+https://example.org)"
    assert "gzip" in headers["Accept-Encoding"]
    assert result.status == "fetched" and len(result.articles) == 3


def test_a_permanent_redirect_updates_the_stored_url_and_a_temporary_one_does_not(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    new = feed_server.route("/new.xml", Response(body=FEED))
    moved = feed_server.route("/old.xml", Response(status=301, headers={"Location": "/new.xml"}))
    temporary = feed_server.route("/tmp.xml", Response(status=302, headers={"Location": "/new.xml"}))
    settings = fetch_settings()
    result = poll_one(moved, settings)
    assert result.status == "fetched" and result.state.current_url == new
    assert poll_one(temporary, settings).state.current_url == ""

    again = poll_one(moved, settings, result.state)
    assert again.status == "fetched"
    assert len(feed_server.requests_to("/old.xml")) == 1  # the next poll went straight to the new URL


def test_a_redirect_loop_fails_with_the_chain(feed_server: FeedServer,
                                               fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/a", Response(status=302, headers={"Location": "/b"}))
    feed_server.route("/b", Response(status=307, headers={"Location": "/a"}))
    result = poll_one(url, fetch_settings())
    assert result.status == "failed" and "redirect loop" in result.reason


@pytest.mark.parametrize(("status", "expected"), [(404, "failed"), (410, "gone")])
def test_404_fails_and_410_marks_the_feed_gone(feed_server: FeedServer, fetch_settings: Callable[..., Any],
                                               status: int, expected: str) -> None:
    url = feed_server.route("/x.xml", Response(status=status, body=b"nope"))
    result = poll_one(url, fetch_settings())
    assert result.status == expected and result.http_status == status
    assert str(status) in result.reason and result.state.last_error == result.reason
    assert result.state.consecutive_failures == 1
    due_later = select_due([result.spec], {result.spec.key: result.state}, NOW + timedelta(days=30))
    assert due_later == ([] if status == 410 else [result.spec])


def test_429_with_a_short_retry_after_is_retried_after_that_wait(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    answers = iter([Response(status=429, headers={"Retry-After": "1"}), Response(body=FEED)])
    url = feed_server.route("/busy.xml", lambda request: next(answers))
    result = poll_one(url, fetch_settings(retries=1))
    assert result.status == "fetched"
    assert len(feed_server.requests_to("/busy.xml")) == 2


def test_429_with_a_long_retry_after_defers_the_feed_instead_of_waiting(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/ban.xml", Response(status=429, headers={"Retry-After": "7200"}))
    result = poll_one(url, fetch_settings(retries=2))
    assert result.status == "failed" and "Retry-After 7200" in result.reason
    assert len(feed_server.requests_to("/ban.xml")) == 1
    assert result.state.next_due_at is not None and result.state.next_due_at >= NOW + timedelta(hours=2)


def test_a_5xx_is_retried_with_backoff(feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    answers = iter([Response(status=502), Response(status=503), Response(body=FEED)])
    url = feed_server.route("/flaky.xml", lambda request: next(answers))
    result = poll_one(url, fetch_settings(retries=2))
    assert result.status == "fetched"
    assert len(feed_server.requests_to("/flaky.xml")) == 3


def test_a_server_that_stalls_past_the_read_timeout_fails(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/stall.xml", Response(body=FEED, delay=1.5))
    result = poll_one(url, fetch_settings(read_timeout=0.3, retries=0))
    assert result.status == "failed" and "timed out" in result.reason


def test_a_server_trickling_bytes_fails_at_the_total_timeout(fetch_settings: Callable[..., Any]) -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        connection.recv(4096)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        while not stop.wait(0.1):  # one byte per 0.1 s: never idle long enough for the read timeout
            try:
                connection.sendall(b" ")
            except OSError:
                break
        connection.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
        result = poll_one(url, fetch_settings(read_timeout=1.0, total_timeout=0.8, retries=0))
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert result.status == "failed" and "for the whole download" in result.reason


def test_a_body_over_the_size_limit_is_refused(feed_server: FeedServer,
                                               fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/big.xml", Response(body=rss(*(item(n) for n in range(200)))))
    result = poll_one(url, fetch_settings(max_body_bytes=5_000))
    assert result.status == "failed" and "over the limit of 5000 bytes" in result.reason


def test_a_compression_bomb_stops_at_the_size_limit(feed_server: FeedServer,
                                                    fetch_settings: Callable[..., Any]) -> None:
    bomb = gzip.compress(b"<rss>" + b" " * 20_000_000)
    url = feed_server.route("/bomb.xml", Response(body=bomb, headers={"Content-Encoding": "gzip"}))
    result = poll_one(url, fetch_settings(max_body_bytes=100_000))
    assert len(bomb) < 100_000
    assert result.status == "failed" and "over the limit" in result.reason


def test_a_gzip_file_served_without_content_encoding_is_inflated_within_the_limit(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/feed.xml.gz", Response(body=gzip.compress(FEED)))
    assert len(poll_one(url, fetch_settings()).articles) == 3
    bomb = feed_server.route("/bomb.xml.gz", Response(body=gzip.compress(b" " * 2_000_000)))
    result = poll_one(bomb, fetch_settings(max_body_bytes=100_000))
    assert result.status == "failed" and "inflates to over 100000 bytes" in result.reason


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty body"),
    (b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>", "HTML page"),
])
def test_bodies_that_are_not_feeds_are_recorded_as_failed(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], body: bytes, reason: str) -> None:
    url = feed_server.route("/notafeed", Response(body=body, headers={"Content-Type": "text/html"}))
    result = poll_one(url, fetch_settings())
    assert result.status == "failed" and reason in result.reason


def test_a_malformed_feed_over_http_gives_its_recoverable_items_and_a_warning(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    broken = FEED.replace(b"</channel></rss>", b"<item><title>cut off")
    url = feed_server.route("/broken.xml", Response(body=broken))
    result = poll_one(url, fetch_settings())
    assert result.status == "fetched" and len(result.articles) >= 3
    assert result.warnings and "malformed" in result.reason


def test_one_poll_survives_every_failure_and_reports_each_feed_in_order(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    urls = [feed_server.route("/ok.xml", Response(body=FEED)),
            feed_server.route("/missing.xml", Response(status=404)),
            feed_server.route("/html", Response(body=b"<html><body>x</body></html>")),
            "http://169.254.169.254/latest/meta-data/"]
    seen: list[str] = []
    results = poll_feeds([FeedSpec(url=u) for u in urls], {}, fetch_settings(), now=NOW,
                         on_result=lambda r: seen.append(r.spec.url))
    assert [r.spec.url for r in results] == urls
    assert [r.status for r in results] == ["fetched", "failed", "failed", "failed"]
    assert sorted(seen) == sorted(urls)


def test_requests_to_one_host_respect_the_per_host_concurrency_limit(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def slow(request: RecordedRequest) -> Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.2)
        with lock:
            active -= 1
        return Response(body=FEED)

    specs = [FeedSpec(url=feed_server.route(f"/f{n}.xml", slow)) for n in range(6)]
    results = poll_feeds(specs, {}, fetch_settings(per_host_concurrency=2, concurrency=10), now=NOW)
    assert all(r.status == "fetched" for r in results)
    assert peak == 2


def test_requests_to_one_host_are_spaced_by_the_politeness_delay(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    arrivals: list[float] = []

    def record(request: RecordedRequest) -> Response:
        arrivals.append(time.monotonic())
        return Response(body=FEED)

    specs = [FeedSpec(url=feed_server.route(f"/p{n}.xml", record)) for n in range(4)]
    results = poll_feeds(specs, {}, fetch_settings(politeness_delay=0.25, per_host_concurrency=4), now=NOW)
    assert all(r.status == "fetched" for r in results)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(arrivals))]
    assert len(gaps) == 3 and min(gaps) >= 0.2  # a lower bound the client guarantees, not a speed


def test_waiting_for_a_busy_host_does_not_count_against_the_download_timeout(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    specs = [FeedSpec(url=feed_server.route(f"/q{n}.xml", Response(body=FEED))) for n in range(5)]
    settings = fetch_settings(politeness_delay=0.3, per_host_concurrency=1, total_timeout=0.5)
    results = poll_feeds(specs, {}, settings, now=NOW)  # the last feed waits about 1.2 s for its turn
    assert [r.status for r in results] == ["fetched"] * 5


# --- address policy ---------------------------------------------------------------------------

@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every TCP connection the fetcher actually opens (the real backend still connects)."""
    opened: list[str] = []
    real = httpcore.AnyIOBackend.connect_tcp

    async def spy(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        opened.append(host)
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
    return opened


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/feed",
                                 "http://100.100.100.200/feed", "http://[fd00:ec2::254]/feed"])
def test_a_feed_on_a_metadata_address_is_refused_without_connecting(
        fetch_settings: Callable[..., Any], connections: list[str], url: str) -> None:
    result = poll_one(url, fetch_settings())
    assert result.status == "failed" and "refused to connect" in result.reason
    assert connections == []


def test_a_redirect_to_a_metadata_address_is_refused(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], connections: list[str]) -> None:
    url = feed_server.route("/r", Response(status=302, headers={"Location": "http://169.254.169.254/x"}))
    result = poll_one(url, fetch_settings())
    assert result.status == "failed" and "169.254.169.254 is a link-local address" in result.reason
    assert "169.254.169.254" not in connections and connections == ["127.0.0.1"]


def test_a_feed_on_loopback_is_refused_by_default_and_fetched_with_the_opt_in_or_allow_list(
        feed_server: FeedServer, tmp_path: Path) -> None:
    from newsflow.core.settings import load_settings

    def settings(**fetch: Any) -> Any:  # the production default, not the tests' opt-in
        return load_settings(home=tmp_path, index_prefix="offline", es_url="http://127.0.0.1:9",
                             fetch={"politeness_delay": 0.0, "retries": 0, **fetch})

    url = feed_server.route("/local.xml", Response(body=FEED))
    by_name = url.replace("127.0.0.1", "localhost")  # checked on the address the name resolves to
    refused = [poll_one(u, settings()) for u in (url, by_name)]
    assert all(r.status == "failed" and "is a loopback address, refused by the address policy" in r.reason
               and "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES=true" in r.reason for r in refused)
    assert feed_server.requests_to("/local.xml") == []  # refused before connecting

    fetched = [poll_one(url, settings(allow_private_addresses=True)),
               poll_one(url, settings(allowed_networks=["127.0.0.0/8"])),
               poll_one(by_name, settings(allowed_hosts=["LOCALHOST"]))]
    assert [r.status for r in fetched] == ["fetched"] * 3
    assert all(len(r.articles) == 3 for r in fetched)
    assert poll_one(url, settings(allowed_networks=["10.0.0.0/8"])).status == "failed"  # not this one


# --- local files -------------------------------------------------------------------------------

@pytest.mark.parametrize("as_url", [False, True])
def test_local_files_are_read_and_an_unchanged_file_is_not_modified(
        tmp_path: Path, fetch_settings: Callable[..., Any], as_url: bool) -> None:
    path = tmp_path / "local.xml"
    path.write_bytes(FEED)
    location = path.as_uri() if as_url else str(path)
    settings = fetch_settings()
    first = poll_one(location, settings)
    assert first.status == "fetched" and len(first.articles) == 3
    assert poll_one(location, settings, first.state).status == "not_modified"
    missing = poll_one(str(tmp_path / "missing.xml"), settings)
    assert missing.status == "failed" and "cannot read the feed file" in missing.reason


def test_too_many_redirects_fail(feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    for n in range(4):
        feed_server.route(f"/hop{n}", Response(status=302, headers={"Location": f"/hop{n + 1}"}))
    feed_server.route("/hop4", Response(body=FEED))
    result = poll_one(feed_server.url("/hop0"), fetch_settings(max_redirects=3))
    assert result.status == "failed" and "too many redirects (more than 3)" in result.reason
    assert poll_one(feed_server.url("/hop0"), fetch_settings(max_redirects=4)).status == "fetched"


def test_retry_after_as_seconds_or_an_http_date() -> None:
    from ingest.fetch import parse_retry_after

    assert parse_retry_after("120") == 120
    assert parse_retry_after("Sun, 10 Mar 2024 12:05:00 GMT", now=NOW) == 300
    assert parse_retry_after("soon") is None and parse_retry_after("") is None


CAFE_UTF8 = rss("<item><title>Caf\u00e9 cr\u00e8me</title><link>http://e.com/1</link></item>")
CAFE_LATIN1 = CAFE_UTF8.decode().replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("latin-1")
CAFE_UNDECLARED = CAFE_UTF8.decode().replace(' encoding="utf-8"', "").encode("latin-1")


@pytest.mark.parametrize(("body", "content_type"), [
    (CAFE_UTF8, "text/xml; charset=iso-8859-1"),  # the header lies
    (CAFE_LATIN1, "application/rss+xml; charset=utf-8"),  # the header lies the other way
    (CAFE_UNDECLARED, "application/xml"),  # no declaration anywhere, latin-1 bytes
    (CAFE_UTF8, "text/html"),  # a wrong media type
])
def test_wrong_or_missing_encoding_declarations_over_http(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], body: bytes, content_type: str) -> None:
    url = feed_server.route("/enc.xml", Response(body=body, headers={"Content-Type": content_type}))
    result = poll_one(url, fetch_settings())
    assert result.status == "fetched"
    assert [a.title for a in result.articles] == ["Café crème"]


def test_invalid_dates_and_items_without_link_or_title_over_http(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    body = rss("<item><title>Bad date</title><link>http://e.com/1</link>"
               "<pubDate>32 Foo 20xx</pubDate></item>",
               "<item><description>No title, no link</description><guid>g-7</guid></item>",
               "<item><title>No link</title></item>")
    url = feed_server.route("/odd.xml", Response(body=body))
    result = poll_one(url, fetch_settings())
    assert result.status == "fetched"
    bad_date, untitled, unlinked = result.articles
    assert bad_date.published_at == NOW  # fell back to the fetch time
    assert untitled.title == "No title, no link" and untitled.url == f"{url}#guid=g-7"
    assert unlinked.url.startswith(f"{url}#item=")


def test_an_entity_expansion_bomb_over_http_does_not_expand(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    entities = '<!ENTITY a "' + "a" * 100 + '">' + "".join(
        f'<!ENTITY {c} "' + f"&{chr(ord(c) - 1)};" * 10 + '">' for c in "bcdefghi")
    bomb = (f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel><title>&i;</title>'
            "<item><title>x &i;</title><link>http://e.com/1</link></item></channel></rss>").encode()
    url = feed_server.route("/bomb.xml", Response(body=bomb))
    result = poll_one(url, fetch_settings())
    assert result.status in ("fetched", "failed")  # either way a recorded outcome, never an expansion
    assert all(len(a.title) < 100 for a in result.articles)
    assert len(result.state.title) < 100


def last_modified_only(body: bytes, modified: str) -> Callable[[RecordedRequest], Response]:
    """A server that knows Last-Modified but no ETag (many static hosts)."""
    def respond(request: RecordedRequest) -> Response:
        if request.headers.get("If-Modified-Since") == modified:
            return Response(status=304)
        return Response(body=body, headers={"Last-Modified": modified})
    return respond


def test_a_second_cycle_over_many_unchanged_real_feeds_is_all_not_modified(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ingest.conftest import REAL_FEEDS

    files = sorted(REAL_FEEDS.glob("ghactions-jeffthomasweb__*"))[:12]
    specs = []
    for n, path in enumerate(files):
        route = validating(path.read_bytes(), etag=f'"e{n}"') if n % 2 else \
            last_modified_only(path.read_bytes(), f"Mon, 0{n % 9 + 1} Jan 2024 00:00:00 GMT")
        specs.append(FeedSpec(url=feed_server.route(f"/real/{path.name}", route)))
    settings = fetch_settings()
    first = poll_feeds(specs, {}, settings, now=NOW)
    assert all(r.status == "fetched" and r.articles for r in first)

    parsed: list[str] = []

    async def spy(self: Any, spec: FeedSpec, *_: Any) -> Any:
        parsed.append(spec.url)

    monkeypatch.setattr(ingest.poll.Parser, "parse", spy)
    second = poll_feeds(specs, {r.spec.key: r.state for r in first}, settings, now=NOW)
    assert [r.status for r in second] == ["not_modified"] * len(specs)
    assert parsed == [] and all(r.articles == () for r in second)
    conditional = [feed_server.requests_to(f"/real/{p.name}")[-1].headers for p in files]
    assert all("If-None-Match" in h or "If-Modified-Since" in h for h in conditional)


def test_many_feeds_are_parsed_in_worker_processes_with_the_same_results_as_in_this_process(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    bodies = [rss(item(3 * n), item(3 * n + 1)) for n in range(6)]
    bodies += [b"<html><body>x</body></html>", FEED.replace(b"</channel></rss>", b"<item>")]
    urls = [feed_server.route(f"/feed{n}.xml", Response(body=body)) for n, body in enumerate(bodies)]
    specs = [FeedSpec(url=u) for u in urls]
    in_processes = fetch_settings(parse_processes=2)

    def outcome(results: list[FeedResult]) -> list[tuple[Any, ...]]:
        return [(r.status, r.reason, r.articles, r.state.title, r.state.item_count) for r in results]

    def parsed_here(spec: FeedSpec, body: bytes) -> tuple[Any, ...]:
        try:
            feed, articles, warnings = ingest.poll._parse_and_normalise(
                spec, ingest.poll.Fetched(url=spec.url, status_code=200, body=body), in_processes, NOW)
        except ingest.poll.FeedError as exc:
            return ("failed", exc.reason, ())
        return ("fetched", "; ".join(feed.warnings + warnings), articles)

    by_processes = poll_feeds(specs, {}, in_processes, now=NOW)
    expected = [parsed_here(spec, body) for spec, body in zip(specs, bodies, strict=True)]
    assert [o[:3] for o in outcome(by_processes)] == expected
    assert [r.status for r in by_processes] == ["fetched"] * 6 + ["failed", "fetched"]
    assert by_processes[6].reason  # the parser's reason, carried back from the worker
    assert sum(len(r.articles) for r in by_processes) == 12 + 3


def test_a_parser_process_that_dies_fails_its_feed_and_the_poll_goes_on(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    real = ingest.poll._parse_and_normalise

    def crash_on_poison(spec: Any, *args: Any) -> Any:
        if spec.url.endswith("/poison.xml"):
            os._exit(70)  # a crash inside a C parser: the worker is gone, no exception
        return real(spec, *args)

    # The workers are forked after this patch, so they run it.
    monkeypatch.setattr(ingest.poll, "_parse_and_normalise", crash_on_poison)
    poison = feed_server.route("/poison.xml", Response(body=FEED))
    healthy = [feed_server.route(f"/ok{n}.xml", Response(body=rss(item(n)))) for n in range(4)]
    settings = fetch_settings(parse_processes=2, concurrency=1)
    results = poll_feeds([FeedSpec(url=u) for u in [poison, *healthy]], {}, settings, now=NOW)
    assert results[0].status == "failed" and "parser process died" in results[0].reason
    assert [r.status for r in results[1:]] == ["fetched"] * 4
