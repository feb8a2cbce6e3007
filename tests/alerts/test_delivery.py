"""Delivering alerts to real receivers: a local HTTP server (webhooks), a local SMTP server (e-mail) and
a log file. Exactly one delivery per (rule, story) and channel, across syndicated copies and re-runs;
failed deliveries are retried with the same alert id, then given up and reported.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from newsflow.alerts import AlertStore, RuleStore, alert_id_for, deliver_pending, match_articles
from newsflow.alerts.delivery import deliver_claimed
from newsflow.alerts.senders import check_smtp_login_security, is_loopback_host
from newsflow.alerts.store import Versioned
from newsflow.core.errors import InsecureSmtpLogin
from newsflow.core.models import Article, utc_now
from tests.support.feedserver import RecordedRequest, Response


def _copies(make_article: Callable[..., Article]) -> list[Article]:
    return [
        make_article("https://wire.example.com/rates", feed_url="https://wire.example.com/feed.xml",
                     source="Wire", story_id="story-rates"),
        make_article("https://daily.example.org/rates-rise", feed_url="https://daily.example.org/rss",
                     source="Daily", story_id="story-rates"),
    ]


def _cycle(client: Any, settings: Any, articles: list[Article], **kwargs: Any) -> Any:
    """What the ingestion cycle does after indexing: match, then deliver."""
    match_articles(client, settings, articles, **kwargs)
    return deliver_pending(client, settings, **kwargs)


def _fails_then_succeeds(failures: int) -> Callable[[RecordedRequest], Response]:
    calls = {"n": 0}

    def respond(_: RecordedRequest) -> Response:
        calls["n"] += 1
        return Response(status=503) if calls["n"] <= failures else Response(status=204)

    return respond


def test_syndicated_copies_over_two_cycles_give_one_delivery_per_channel(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any, smtp_inbox: Any,
    tmp_path: Path, make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(smtp_host=smtp_inbox.host, smtp_port=smtp_inbox.port)
    hook = feed_server.route("/hook", Response(status=200))
    log_file = tmp_path / "alerts.jsonl"
    RuleStore(es_client, settings).add(
        "rates", "interest rates", [f"webhook:{hook}", "email:desk@example.org", f"log:{log_file}"])
    wire, daily = _copies(make_article)

    first = _cycle(es_client, settings, [wire, daily])
    second = _cycle(es_client, settings, [daily, wire])  # the same cycle again (a re-run)

    assert (first.sent, first.failed, first.deferred) == (3, 0, 0)
    assert (second.sent, second.failed, second.deferred) == (0, 0, 0)
    expected_id = alert_id_for("rates", "story-rates")
    [post] = feed_server.requests_to("/hook")
    alert = json.loads(post.body)
    assert alert["id"] == expected_id
    assert post.headers["Idempotency-Key"] == expected_id
    assert (alert["rule"], alert["story_id"]) == ("rates", "story-rates")
    assert alert["article"] == {
        "id": wire.id, "title": wire.title, "url": wire.url, "source": "Wire",
        "published_at": "2026-11-26T09:00:00Z"}
    [mail] = smtp_inbox.messages(to="desk@example.org")
    assert mail["Subject"] == f"[newsflow] rates: {wire.title}"
    assert mail["X-Newsflow-Alert-Ids"] == expected_id
    [line] = log_file.read_text().splitlines()
    assert json.loads(line) == alert
    [record] = AlertStore(es_client, settings).all()
    assert record.status == "sent"
    assert [(d.status, d.attempts) for d in record.deliveries] == [("sent", 1)] * 3


def test_a_webhook_failing_twice_then_succeeding_gets_the_alert_once(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=2)
    hook = feed_server.route("/flaky", _fails_then_succeeds(2))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{hook}"])

    result = _cycle(es_client, settings, _copies(make_article))
    again = _cycle(es_client, settings, _copies(make_article))

    assert (result.sent, again.sent) == (1, 0)
    requests = feed_server.requests_to("/flaky")
    assert len(requests) == 3  # 503, 503, then accepted
    assert {r.headers["Idempotency-Key"] for r in requests} == {alert_id_for("rates", "story-rates")}
    assert len({r.body for r in requests}) == 1


def test_a_failed_webhook_is_retried_in_later_cycles_with_the_same_id(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=0, retry_backoff=60.0)
    hook = feed_server.route("/down", _fails_then_succeeds(2))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{hook}"])
    now = utc_now()

    first = _cycle(es_client, settings, _copies(make_article), now=now)
    too_early = deliver_pending(es_client, settings, now=now + timedelta(seconds=30))
    second = deliver_pending(es_client, settings, now=now + timedelta(seconds=61))
    third = deliver_pending(es_client, settings, now=now + timedelta(seconds=61 + 121))
    after = deliver_pending(es_client, settings, now=now + timedelta(hours=1))

    assert [(r.sent, r.deferred) for r in (first, too_early, second, third, after)] == [
        (0, 1), (0, 0), (0, 1), (1, 0), (0, 0)]
    requests = feed_server.requests_to("/down")
    assert len(requests) == 3
    assert {r.headers["Idempotency-Key"] for r in requests} == {alert_id_for("rates", "story-rates")}
    [record] = AlertStore(es_client, settings).all()
    assert (record.status, record.deliveries[0].attempts) == ("sent", 3)


def test_a_webhook_that_always_fails_is_marked_failed_after_the_limit_and_reported(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=1, max_delivery_attempts=3, retry_backoff=1.0)
    hook = feed_server.route("/broken", Response(status=500))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{hook}"])
    now = utc_now()

    results = [_cycle(es_client, settings, _copies(make_article), now=now + timedelta(minutes=m))
               for m in range(5)]

    assert [(r.failed, r.deferred) for r in results] == [(0, 1), (0, 1), (1, 0), (0, 0), (0, 0)]
    [failure] = results[2].failures
    assert (failure.rule, failure.story_id, failure.channel, failure.attempts) == (
        "rates", "story-rates", f"webhook:{hook}", 3)
    assert failure.error == "HTTP 500"
    assert len(feed_server.requests_to("/broken")) == 3 * 2  # 3 attempts, each with one quick retry
    [record] = AlertStore(es_client, settings).all()
    assert (record.status, record.deliveries[0].status, record.deliveries[0].last_error) == (
        "failed", "failed", "HTTP 500")


def test_a_refused_webhook_request_is_not_retried_within_the_attempt(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=3)
    hook = feed_server.route("/gone", Response(status=410))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{hook}"])

    result = _cycle(es_client, settings, _copies(make_article))

    assert result.deferred == 1
    assert len(feed_server.requests_to("/gone")) == 1


def test_the_webhook_signature_covers_a_timestamp_and_the_exact_body(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_secret="s3cret")
    hook = feed_server.route("/signed", Response(status=202))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{hook}"])

    before = int(time.time())
    _cycle(es_client, settings, _copies(make_article))

    [post] = feed_server.requests_to("/signed")
    timestamp = post.headers["X-Newsflow-Timestamp"]
    assert before <= int(timestamp) <= time.time()
    signed = timestamp.encode() + b"." + post.body
    expected = hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert post.headers["X-Newsflow-Signature"] == f"sha256={expected}"
    # The body alone no longer verifies: a captured delivery cannot be replayed with a new time.
    assert post.headers["X-Newsflow-Signature"] != \
        "sha256=" + hmac.new(b"s3cret", post.body, hashlib.sha256).hexdigest()
    assert post.headers["Idempotency-Key"] == alert_id_for("rates", "story-rates")
    assert post.headers["Content-Type"] == "application/json"
    assert receiver_accepts(post, b"s3cret", now=int(timestamp) + 60)
    assert not receiver_accepts(post, b"s3cret", now=int(timestamp) + 301)  # replayed 5 min later


def receiver_accepts(post: RecordedRequest, secret: bytes, now: int) -> bool:
    """The receiver-side check of docs/alerts.md, as a receiver would write it."""
    timestamp = post.headers.get("X-Newsflow-Timestamp", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > 300:
        return False
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + post.body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, post.headers.get("X-Newsflow-Signature", ""))


def test_digest_mode_sends_one_message_per_rule_per_cycle(
    alert_settings: Callable[..., Any], es_client: Any, smtp_inbox: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(smtp_host=smtp_inbox.host, smtp_port=smtp_inbox.port, email_digest=True)
    rules = RuleStore(es_client, settings)
    rules.add("rates", "rates", ["email:desk@example.org"])
    rules.add("bank", "bank", ["email:desk@example.org"])
    stories = [make_article(f"https://example.com/{n}", story_id=f"s{n}",
                            title=f"Story {n}: central bank raises interest rates") for n in range(3)]

    result = _cycle(es_client, settings, stories)
    later = _cycle(es_client, settings, [make_article("https://example.com/9", story_id="s9")])

    assert (result.sent, later.sent) == (6, 2)  # alerts delivered (3 stories x 2 rules, then 1 x 2)
    messages = smtp_inbox.messages(to="desk@example.org")
    assert sorted(m["Subject"] for m in messages) == [
        "[newsflow] bank: 3 new stories", "[newsflow] bank: Central bank raises interest rates",
        "[newsflow] rates: 3 new stories", "[newsflow] rates: Central bank raises interest rates"]
    digest = next(m for m in messages if m["Subject"] == "[newsflow] rates: 3 new stories")
    attachment = next(part for part in digest.walk() if part.get_filename() == "alerts.json")
    alerts = json.loads(attachment.get_payload(decode=True))
    assert sorted(a["story_id"] for a in alerts) == ["s0", "s1", "s2"]
    assert {a["id"] for a in alerts} == {alert_id_for("rates", f"s{n}") for n in range(3)}


def test_without_digest_each_alert_is_its_own_message(
    alert_settings: Callable[..., Any], es_client: Any, smtp_inbox: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(smtp_host=smtp_inbox.host, smtp_port=smtp_inbox.port)
    RuleStore(es_client, settings).add("rates", "rates", ["email:desk@example.org"])
    stories = [make_article(f"https://example.com/{n}", story_id=f"s{n}") for n in range(3)]

    assert _cycle(es_client, settings, stories).sent == 3
    assert len(smtp_inbox.messages(to="desk@example.org")) == 3


def test_an_unreachable_smtp_server_defers_the_email_and_says_which_server(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(smtp_host="127.0.0.1", smtp_port=9, smtp_timeout=2.0)
    RuleStore(es_client, settings).add("rates", "rates", ["email:desk@example.org"])

    assert _cycle(es_client, settings, _copies(make_article)).deferred == 1
    [record] = AlertStore(es_client, settings).all()
    assert "SMTP 127.0.0.1:9" in record.deliveries[0].last_error


def test_a_run_that_died_after_claiming_resends_the_same_alert_once_its_lease_has_passed(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(delivery_lease=300.0)
    hook = feed_server.route("/hook", Response(status=200))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{hook}"])
    match_articles(es_client, settings, _copies(make_article))
    store = AlertStore(es_client, settings)
    now = utc_now()
    due: list[Versioned] = list(store.due(now))
    assert len(store.claim(due, until=now + timedelta(seconds=300))) == 1  # ...and then the run died

    assert store.claim(due, until=now) == []  # a concurrent run with the old version loses the claim
    during_lease = deliver_pending(es_client, settings, now=now + timedelta(seconds=60))
    after_lease = deliver_pending(es_client, settings, now=now + timedelta(seconds=301))

    assert (during_lease.sent, after_lease.sent) == (0, 1)
    [post] = feed_server.requests_to("/hook")
    assert post.headers["Idempotency-Key"] == alert_id_for("rates", "story-rates")


def test_a_log_channel_appends_one_json_line_per_alert(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings()
    log_file = tmp_path / "nested" / "alerts.jsonl"
    log_file.parent.mkdir()
    log_file.write_text('{"earlier": true}\n')
    RuleStore(es_client, settings).add("rates", "rates", [f"log:{log_file}"])

    _cycle(es_client, settings, [make_article(f"https://example.com/{n}", story_id=f"s{n}")
                                 for n in range(2)])

    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert lines[0] == {"earlier": True}
    assert sorted(line["story_id"] for line in lines[1:]) == ["s0", "s1"]


def test_a_receiver_that_is_down_is_tried_once_per_run_and_its_other_alerts_wait(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=1)
    down = feed_server.route("/down", Response(status=503))
    fine = feed_server.route("/fine", Response(status=200))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{down}", f"webhook:{fine}"])
    stories = [make_article(f"https://example.com/{n}", story_id=f"s{n}") for n in range(3)]

    result = _cycle(es_client, settings, stories)

    assert (result.sent, result.deferred) == (3, 3)
    assert len(feed_server.requests_to("/down")) == 2  # the first alert and its quick retry only
    assert len(feed_server.requests_to("/fine")) == 3
    records = AlertStore(es_client, settings).all()
    assert {(d.channel, d.status, d.attempts) for r in records for d in r.deliveries} == {
        (f"webhook:{down}", "pending", 1), (f"webhook:{fine}", "sent", 1)}


def test_a_run_delivering_in_parts_waits_for_a_down_receiver_once(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    # `newsflow run` delivers each group of articles as it is matched: one run, several parts.
    settings = alert_settings(webhook_retries=1)
    down = feed_server.route("/down", Response(status=503))
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{down}"])
    now = utc_now()
    found_down: dict[str, str] = {}
    deferred = 0
    for part in range(3):
        article = make_article(f"https://example.com/{part}", story_id=f"s{part}")
        matched = match_articles(es_client, settings, [article], now=now,
                                 claim_until=now + timedelta(minutes=5))
        deferred += deliver_claimed(es_client, settings, matched.claimed, now=now, down=found_down).deferred

    assert deferred == 3
    assert len(feed_server.requests_to("/down")) == 2  # the first part's attempt and quick retry only
    assert list(found_down) == [f"webhook:{down}"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_email_logs_in_with_the_configured_credentials(
    alert_settings: Callable[..., Any], es_client: Any, smtp_login_inbox: Any,
    make_article: Callable[..., Article],
) -> None:
    inbox = smtp_login_inbox
    good = alert_settings(smtp_host=inbox.host, smtp_port=inbox.port,
                          smtp_username="newsflow", smtp_password="letmein")
    bad = alert_settings(smtp_host=inbox.host, smtp_port=inbox.port,
                         smtp_username="newsflow", smtp_password="wrong")
    for settings in (good, bad):
        RuleStore(es_client, settings).add("rates", "rates", ["email:desk@example.org"])

    accepted = _cycle(es_client, good, _copies(make_article))
    refused = _cycle(es_client, bad, _copies(make_article))

    assert (accepted.sent, refused.deferred) == (1, 1)
    assert len(inbox.messages(to="desk@example.org")) == 1
    [record] = AlertStore(es_client, bad).all()
    assert "SMTPAuthenticationError" in record.deliveries[0].last_error


def test_email_upgrades_to_tls_with_starttls_and_verifies_the_certificate(
    alert_settings: Callable[..., Any], es_client: Any, smtp_starttls: Any,
    make_article: Callable[..., Article],
) -> None:
    inbox = smtp_starttls.inbox
    server = {"smtp_host": inbox.host, "smtp_port": inbox.port}
    trusted = alert_settings(**server, smtp_starttls=True, smtp_ca_certs=smtp_starttls.ca_file)
    untrusted = alert_settings(**server, smtp_starttls=True)  # system CAs do not know this server
    plain = alert_settings(**server)  # the server requires STARTTLS
    for settings in (trusted, untrusted, plain):
        RuleStore(es_client, settings).add("rates", "rates", ["email:desk@example.org"])

    results = [_cycle(es_client, s, _copies(make_article)) for s in (trusted, untrusted, plain)]

    assert [(r.sent, r.deferred) for r in results] == [(1, 0), (0, 1), (0, 1)]
    assert len(inbox.messages(to="desk@example.org")) == 1
    [untrusted_record] = AlertStore(es_client, untrusted).all()
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted_record.deliveries[0].last_error


def test_alerts_created_claimed_are_delivered_once_by_their_run_and_not_by_another(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings()
    hook = feed_server.route("/claimed", Response(status=200))
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    now = utc_now()
    matched = match_articles(es_client, settings, _copies(make_article), now=now,
                             claim_until=now + timedelta(minutes=5))
    assert matched.created == 1 and len(matched.claimed) == 1

    # Another run looking for due alerts meanwhile finds none: the new one is held by its creator.
    assert deliver_pending(es_client, settings, now=now).sent == 0
    assert deliver_claimed(es_client, settings, matched.claimed, now=now).sent == 1
    assert deliver_pending(es_client, settings, now=now + timedelta(minutes=10)).sent == 0
    assert len(feed_server.requests_to("/claimed")) == 1


def test_email_never_logs_in_over_plaintext_to_a_remote_server(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article],
) -> None:
    # Refused before connecting: the host need not exist (and is never resolved).
    settings = alert_settings(smtp_host="smtp.example.invalid", smtp_port=25,
                              smtp_username="newsflow", smtp_password="letmein")
    RuleStore(es_client, settings).add("rates", "rates", ["email:desk@example.org"])

    result = _cycle(es_client, settings, _copies(make_article))

    assert (result.sent, result.deferred) == (0, 1)
    [record] = AlertStore(es_client, settings).all()
    error = record.deliveries[0].last_error
    assert "refusing to log in to SMTP server smtp.example.invalid:25 without TLS" in error
    assert "NEWSFLOW_ALERTS__SMTP_STARTTLS=true" in error
    assert "letmein" not in error


def test_only_localhost_and_loopback_addresses_count_as_loopback() -> None:
    assert all(is_loopback_host(h) for h in ("localhost", "LOCALHOST.", "127.0.0.1", "127.8.9.1",
                                             "::1", "[::1]"))
    assert not any(is_loopback_host(h) for h in ("smtp.example.org", "10.0.0.1", "0.0.0.0",
                                                 "localhost.example.org", "::ffff:8.8.8.8"))


def test_the_login_check_allows_tls_or_loopback_only(alert_settings: Callable[..., Any]) -> None:
    remote = {"smtp_host": "smtp.example.org", "smtp_username": "newsflow"}
    check_smtp_login_security(alert_settings(**remote, smtp_starttls=True).alerts)
    check_smtp_login_security(alert_settings(**remote, smtp_ssl=True).alerts)
    check_smtp_login_security(alert_settings(smtp_host="smtp.example.org").alerts)  # no login
    check_smtp_login_security(alert_settings(smtp_host="127.0.0.1", smtp_username="n").alerts)
    with pytest.raises(InsecureSmtpLogin, match="SMTP_SSL=true"):
        check_smtp_login_security(alert_settings(**remote).alerts)


@pytest.fixture
def trickling_receiver() -> Any:
    """A webhook receiver on 127.0.0.1 that answers 200 at once, then sends its (long) body one
    byte every 0.3 s: each read is quick, the whole answer would take a minute."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Trickle(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "200")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.3)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_a_receiver_trickling_its_answer_does_not_hold_the_delivery(
    alert_settings: Callable[..., Any], es_client: Any, trickling_receiver: str,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_timeout=1.0)
    RuleStore(es_client, settings).add("rates", "rates", [f"webhook:{trickling_receiver}"])
    match_articles(es_client, settings, _copies(make_article))

    started = time.monotonic()
    result = deliver_pending(es_client, settings)

    assert result.sent == 1  # the receiver said 200: delivered
    assert time.monotonic() - started < 20  # not the minute its answer would take
