"""Bounded work per feed and per poll, against real local servers: one deadline per feed over every
hop, retry, wait, body read and parse (a parse over it is killed for real); a poll deadline; header
values of any shape; schemes in any case; credentials sent to the feed's own origin only."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import ingest.poll
from ingest.fetch import MAX_RETRY_AFTER, parse_retry_after
from ingest.poll import poll_feeds
from ingest.types import FeedAuth, FeedHeader, FeedResult, FeedSpec
from tests.ingest.conftest import item, rss
from tests.support.feedserver import FeedServer, RecordedRequest, Response

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
FEED = rss(item(1), item(2))


def poll(specs: list[FeedSpec], settings: Any) -> tuple[list[FeedResult], float]:
    started = time.monotonic()
    results = poll_feeds(specs, {}, settings, now=NOW)
    return results, time.monotonic() - started


@pytest.fixture
def trickler() -> Iterator[str]:
    """A raw server that sends its headers, then one byte of the body every second."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    def trickle(connection: socket.socket) -> None:
        with connection:
            connection.recv(4096)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not stop.wait(1.0):
                try:
                    connection.sendall(b"<")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
    stop.set()
    thread.join(5)
    listener.close()


def test_a_body_trickled_one_byte_a_second_fails_at_the_feed_deadline_with_the_real_elapsed_time(
        trickler: str, fetch_settings: Callable[..., Any]) -> None:
    settings = fetch_settings(feed_deadline=2.5, total_timeout=60, read_timeout=5, retries=3)
    [result], elapsed = poll([FeedSpec(url=trickler)], settings)
    assert result.status == "failed"
    assert "feed deadline of 2.5 s (fetch.feed_deadline) exceeded after 2.5 s" in result.reason
    assert "reading the body of" in result.reason and "bytes of the body read" in result.reason
    assert elapsed < 4.5


def test_redirect_hops_retries_and_retry_after_waits_all_share_one_deadline(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    for hop in range(4):
        feed_server.route(f"/hop{hop}", Response(status=302, headers={"Location": f"/hop{hop + 1}"},
                                                 delay=0.3))
    feed_server.route("/hop4", Response(status=503, headers={"Retry-After": "1"}, delay=0.3))
    settings = fetch_settings(feed_deadline=3, retries=10, max_redirects=5, total_timeout=60)
    [result], elapsed = poll([FeedSpec(url=feed_server.url("/hop0"))], settings)
    assert result.status == "failed" and "feed deadline of 3 s" in result.reason
    assert elapsed < 4.5  # before: 11 attempts of 5 hops of 0.3 s and 1 s waits, ~27 s
    assert len(feed_server.requests_to("/hop4")) < 4


def test_a_retry_after_that_would_pass_the_deadline_defers_the_feed_at_once(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    url = feed_server.route("/busy.xml", Response(status=429, headers={"Retry-After": "30"}))
    [result], elapsed = poll([FeedSpec(url=url)], fetch_settings(feed_deadline=5, max_retry_after=120))
    assert result.status == "failed"
    assert "not retried: waiting 30 s would pass the feed deadline" in result.reason
    assert elapsed < 2 and len(feed_server.requests_to("/busy.xml")) == 1
    assert result.state.next_due_at is not None and result.state.next_due_at > NOW


def spin_on_slow(spec: Any, *args: Any) -> Any:
    """A parse that holds its core forever (a regex gone quadratic) for one feed."""
    if spec.url.endswith("/slow.xml"):
        while True:
            pass
    return REAL_PARSE(spec, *args)


REAL_PARSE = ingest.poll._parse_and_normalise


def test_a_parse_over_the_deadline_is_killed_and_the_other_feeds_go_on(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers are forked after this patch, so they run it.
    monkeypatch.setattr(ingest.poll, "_parse_and_normalise", spin_on_slow)
    slow = feed_server.route("/slow.xml", Response(body=FEED))
    healthy = [feed_server.route(f"/ok{n}.xml", Response(body=rss(item(n)))) for n in range(5)]
    # One worker: the healthy feeds wait for it while the slow parse holds it, and that wait is not
    # counted against their own deadlines.
    settings = fetch_settings(feed_deadline=2, parse_processes=1)
    results, elapsed = poll([FeedSpec(url=u) for u in [slow, *healthy]], settings)
    assert results[0].status == "failed"
    assert "feed deadline of 2 s" in results[0].reason and "while parsing" in results[0].reason
    assert [r.status for r in results[1:]] == ["fetched"] * 5
    assert elapsed < 4.5
    assert child_processes() == set()  # the spinning worker was killed and reaped, not left behind


def child_processes() -> set[int]:
    """This process's children, from /proc (the parser workers are forked with os.fork)."""
    import os
    from pathlib import Path

    children: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children.update(int(pid) for pid in (task / "children").read_text().split())
        except FileNotFoundError:
            continue  # a thread (e.g. the test server's) ended between the listing and the read
    return children


def test_the_poll_deadline_fails_the_feeds_not_done_and_returns_the_feeds_done(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    fast = feed_server.route("/fast.xml", Response(body=FEED))
    stalled = feed_server.route("/stalled.xml", Response(body=FEED, delay=8))
    waiting = feed_server.route("/waiting.xml", Response(body=FEED))
    settings = fetch_settings(poll_deadline=1.5, feed_deadline=30, read_timeout=30, concurrency=1)
    results, elapsed = poll([FeedSpec(url=u) for u in (fast, stalled, waiting)], settings)
    done, cut, never = results
    assert done.status == "fetched" and len(done.articles) == 2
    assert cut.status == "failed" and "poll deadline of 1.5 s (fetch.poll_deadline)" in cut.reason
    assert "waiting for the response headers" in cut.reason and cut.state.consecutive_failures == 1
    assert never.status == "failed" and never.reason.startswith("not polled: the poll deadline")
    assert never.state.consecutive_failures == 0 and never.state.next_due_at is None  # still due
    assert elapsed < 3


def test_a_retry_after_of_twelve_digits_fails_one_feed_with_a_finite_next_poll(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    huge = feed_server.route("/huge.xml", Response(status=429, headers={"Retry-After": "999999999999"}))
    year_9999 = feed_server.route("/far.xml", Response(status=503, headers={
        "Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}))
    ok = feed_server.route("/ok.xml", Response(body=FEED))
    results, _ = poll([FeedSpec(url=u) for u in (huge, year_9999, ok)], fetch_settings())
    assert [r.status for r in results] == ["failed", "failed", "fetched"]
    for result in results[:2]:
        assert f"Retry-After {MAX_RETRY_AFTER:g} s" in result.reason
        assert result.state.next_due_at is not None and result.state.next_due_at.year < 2100


def test_a_failure_whose_next_poll_time_cannot_be_computed_is_still_a_failed_result(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def overflowing(*_: Any) -> float:
        raise OverflowError("date value out of range")  # what next_due raised on a huge Retry-After

    monkeypatch.setattr(ingest.poll, "failure_delay", overflowing)
    missing = feed_server.url("/missing.xml")
    seen: list[str] = []

    def on_result(result: FeedResult) -> None:
        seen.append(result.status)
        raise RuntimeError("a progress display that fails")

    present = feed_server.route("/a.xml", Response(body=FEED))
    results = poll_feeds([FeedSpec(url=missing), FeedSpec(url=present)], {}, fetch_settings(), now=NOW,
                         on_result=on_result)
    assert [r.status for r in results] == ["failed", "fetched"] and sorted(seen) == ["failed", "fetched"]
    assert "404" in results[0].reason and results[0].state.next_due_at is not None
    assert results[0].state.consecutive_failures == 1


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), ("1.5", 1.5), (" 7 ", 7.0), ("999999999999", MAX_RETRY_AFTER),
    ("9" * 400, MAX_RETRY_AFTER),
    ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER), ("Mon, 01 Jan 1990 00:00:00 GMT", 0.0),
    ("Sun, 10 Mar 2024 12:01:00 GMT", 60.0), ("-5", None), ("garbage", None), ("\u00b2", None),
    ("\u0661\u0662", None), ("", None), ("nan", None), ("inf", None), ("1e9", None), ("x" * 10_000, None),
    ("Mon, 99 Foo 99999 99:99:99 GMT", None),
])
def test_retry_after_of_any_shape_is_a_clamped_number_or_none(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_an_upper_case_http_scheme_is_fetched_over_http(feed_server: FeedServer,
                                                        fetch_settings: Callable[..., Any]) -> None:
    feed_server.route("/world.xml", Response(body=FEED))
    url = feed_server.url("/world.xml").replace("http://", "HTTP://")
    [result], _ = poll([FeedSpec(url=url)], fetch_settings())
    assert result.status == "fetched" and len(result.articles) == 2


@pytest.mark.parametrize("target", ["file:///etc/passwd", "FILE:///etc/passwd", "ftp://127.0.0.1/feed",
                                    "data:text/xml,<rss/>", "gopher://127.0.0.1/"])
def test_a_redirect_to_a_non_http_scheme_is_refused(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], target: str) -> None:
    url = feed_server.route("/moved.xml", Response(status=301, headers={"Location": target}))
    [result], _ = poll([FeedSpec(url=url)], fetch_settings())
    assert result.status == "failed"
    assert "redirect to a non-HTTP URL refused" in result.reason or "redirect target refused" in result.reason
    assert "root:" not in result.reason


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def requiring(authorization: str) -> Callable[[RecordedRequest], Response]:
    def respond(request: RecordedRequest) -> Response:
        if request.headers.get("Authorization") != authorization:
            return Response(status=401, headers={"WWW-Authenticate": 'Basic realm="feeds"'})
        return Response(body=FEED)
    return respond


def test_basic_auth_and_headers_from_the_environment_reach_the_feeds_origin_only(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_FEED_PASSWORD", "s3cret")
    monkeypatch.setenv("TEST_FEED_KEY", "key-123")
    private = feed_server.route("/private.xml", requiring(basic("reader", "s3cret")))
    with FeedServer() as elsewhere:
        elsewhere.route("/landing.xml", Response(body=FEED))
        away = feed_server.route("/away.xml", Response(status=302, headers={
            "Location": elsewhere.url("/landing.xml")}))
        headers = (FeedHeader(name="X-Api-Key", env="TEST_FEED_KEY"),)
        by_reference = FeedAuth("reader", password_env="TEST_FEED_PASSWORD")
        specs = [FeedSpec(url=private, auth=by_reference, headers=headers),
                 FeedSpec(url=private),
                 FeedSpec(url=away, auth=FeedAuth("reader", "from-the-url"), headers=headers)]
        results, _ = poll(specs, fetch_settings())
        assert [r.status for r in results] == ["fetched", "failed", "fetched"]
        assert "401" in results[1].reason
        # Two specs share the URL (one with credentials, one without) and may go out in either order.
        assert [r.headers.get("X-Api-Key") for r in feed_server.requests_to("/private.xml")
                if r.headers.get("Authorization")] == ["key-123"]
        sent_away = feed_server.requests_to("/away.xml")[0].headers
        assert sent_away["Authorization"] == basic("reader", "from-the-url")
        [landed] = elsewhere.requests_to("/landing.xml")
        assert "Authorization" not in landed.headers and "X-Api-Key" not in landed.headers


def test_a_missing_credentials_variable_fails_the_feed_naming_the_variable(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_FEED_UNSET", raising=False)
    url = feed_server.route("/p.xml", Response(body=FEED))
    spec = FeedSpec(url=url, auth=FeedAuth("r", password_env="TEST_FEED_UNSET"))
    [result], _ = poll([spec], fetch_settings())
    assert result.status == "failed" and "TEST_FEED_UNSET" in result.reason
    assert feed_server.requests_to("/p.xml") == []


def test_the_full_text_page_budget_is_shared_by_every_feed_of_a_poll(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.fulltext

    monkeypatch.setattr(ingest.fulltext, "MAX_PAGES_PER_POLL", 3)
    base = feed_server.base_url
    specs = []
    for feed in range(3):
        items = "".join(f"<item><title>T{feed}-{n}</title><link>{base}/page/{feed}-{n}</link>"
                        "<description>Short.</description></item>" for n in range(2))
        body = f'<rss version="2.0"><channel><title>F{feed}</title>{items}</channel></rss>'.encode()
        specs.append(FeedSpec(url=feed_server.route(f"/f{feed}.xml", Response(body=body))))
    results, _ = poll(specs, fetch_settings(full_text=True))
    assert [r.status for r in results] == ["fetched"] * 3
    pages = [r for r in feed_server.requests if r.path.startswith("/page/")]
    assert len(pages) == 3  # before: 3 per feed, 6 in all


WORKER_OWNER = """
import sys, time
from datetime import datetime, timezone
import ingest.poll
from ingest.fetch import Fetched
from ingest.types import FeedSpec
from newsflow.core.settings import load_settings

def spin(*_):
    while True:
        pass

ingest.poll._parse_and_normalise = spin
settings = load_settings(home=sys.argv[1], index_prefix="offline", es_url="http://127.0.0.1:9")
worker = ingest.poll.Parser(settings, 1)._start()
worker.connection.send((FeedSpec(url="x"), Fetched(url="x", status_code=200), settings,
                        datetime.now(timezone.utc)))
print(worker.pid, flush=True)
time.sleep(60)
"""


def test_a_parser_worker_spinning_in_a_parse_dies_with_its_parent(tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    owner = subprocess.Popen([sys.executable, "-c", WORKER_OWNER, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True)
    assert owner.stdout is not None
    worker_pid = int(owner.stdout.readline())
    time.sleep(0.5)  # the worker is spinning now, deaf to its pipe
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    owner.stdout.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(worker_pid):
        time.sleep(0.1)
    alive = _alive(worker_pid)
    if alive:
        os.kill(worker_pid, signal.SIGKILL)  # do not leave it spinning on a shared machine
    assert not alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead, awaiting its reaper
    except FileNotFoundError:
        return False


def test_credentials_written_in_a_feed_url_authenticate_and_appear_nowhere_after_loading(
        feed_server: FeedServer, fetch_settings: Callable[..., Any], tmp_path: Any) -> None:
    from ingest.feeds import load_feeds

    clean = feed_server.route("/members.xml", requiring(basic("reader", "s3cret")))
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - {clean.replace('http://', 'http://reader:s3cret@')}\n")
    [spec] = load_feeds(feeds_file)
    [result], _ = poll([spec], fetch_settings())
    assert result.status == "fetched" and len(result.articles) == 2
    assert spec.url == clean and result.state.url == clean
    assert {a.feed_url for a in result.articles} == {clean}
    assert "s3cret" not in repr(result)  # state, articles, spec: what is logged and stored
