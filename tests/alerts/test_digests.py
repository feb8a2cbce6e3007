"""Scheduled digests: a digest rule's alerts go out together, one message per rule and period, each
story once, over every channel; once per period across re-runs, retries and a SIGKILL mid-delivery.
Against the real Elasticsearch, a local HTTP receiver, a local SMTP server and log files."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.alerts import AlertStore, RuleStore, match_articles
from newsflow.alerts.digests import DigestStore, deliver_digests
from newsflow.alerts.periods import digest_id_for, period_containing
from newsflow.cli import cli
from newsflow.core.errors import AlertError
from newsflow.core.models import Article
from newsflow.index.store import ArticleStore
from tests.conftest import REPO
from tests.support.feedserver import Response
from tests.support.killed_cli import kill_cli_at_first_request

MORNING = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)  # a Thursday
NEXT_DAY = datetime(2026, 11, 27, 0, 10, tzinfo=UTC)


# --- periods (pure) ------------------------------------------------------------------------------

def test_a_daily_period_is_a_day_of_the_rules_time_zone_also_across_a_clock_change() -> None:
    # 2026-10-25: Berlin's clocks go back an hour, so that day is 25 hours long.
    day = period_containing(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), "daily", "Europe/Berlin")
    assert (day.start, day.end) == (datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
                                    datetime(2026, 10, 25, 23, 0, tzinfo=UTC))
    assert day.label == "2026-10-25 Europe/Berlin"
    # 23:30 UTC on the 25th is already the 26th in Berlin.
    late = period_containing(datetime(2026, 10, 25, 23, 30, tzinfo=UTC), "daily", "Europe/Berlin")
    assert late.start == day.end


def test_weeks_start_on_monday_and_hours_are_whole_hours() -> None:
    week = period_containing(MORNING, "weekly", "UTC")
    assert (week.start, week.end) == (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    hour = period_containing(MORNING, "hourly", "Asia/Kolkata")  # UTC+05:30: local hours start at :30 UTC
    assert (hour.start, hour.end) == (datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
                                      datetime(2026, 11, 26, 10, 30, tzinfo=UTC))
    assert hour.label == "2026-11-26 15:00-16:00 Asia/Kolkata"


def test_a_digest_id_is_stable_for_a_rule_and_period_and_differs_otherwise() -> None:
    today = period_containing(MORNING, "daily", "UTC")
    assert digest_id_for("rates", today) == digest_id_for("rates", period_containing(
        MORNING + timedelta(hours=5), "daily", "UTC"))
    assert digest_id_for("rates", today) != digest_id_for("other", today)
    tomorrow = period_containing(NEXT_DAY, "daily", "UTC")
    assert digest_id_for("rates", today) != digest_id_for("rates", tomorrow)
    assert digest_id_for("rates", today) != digest_id_for("rates", period_containing(MORNING, "daily",
                                                                                     "Europe/Berlin"))


def test_a_rule_refuses_an_unknown_period_or_time_zone(es_client: Any, settings: Any) -> None:
    rules = RuleStore(es_client, settings)
    with pytest.raises(AlertError, match="digest period 'monthly'"):
        rules.add("r", "rates", ["log:/tmp/x.jsonl"], digest="monthly")
    with pytest.raises(AlertError, match="time zone 'Mars/Olympus'"):
        rules.add("r", "rates", ["log:/tmp/x.jsonl"], digest="daily", timezone="Mars/Olympus")


# --- delivery ------------------------------------------------------------------------------------

def _stories(make_article: Callable[..., Article]) -> list[Article]:
    """Two copies of one story (two outlets) and a second story, all about interest rates."""
    return [
        make_article("https://wire.example.com/rates", source="Wire", story_id="story-rates",
                     title="Central bank raises interest rates"),
        make_article("https://daily.example.org/rates-rise", source="Daily", story_id="story-rates",
                     title="Rates rise again", published_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC)),
        make_article("https://wire.example.com/mortgages", source="Wire", story_id="story-mortgages",
                     title="Mortgage costs climb after interest rates rise",
                     body="Interest rates push mortgage costs up."),
    ]


def _index(es_client: Any, settings: Any, articles: list[Article]) -> None:
    store = ArticleStore(es_client, settings)
    store.write(articles)
    store.refresh()


def test_a_digest_rule_sends_one_message_per_period_with_each_story_once(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any, smtp_inbox: Any, tmp_path: Path,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(smtp_host=smtp_inbox.host, smtp_port=smtp_inbox.port)
    hook = feed_server.route("/hook", Response(status=200))
    log_file = tmp_path / "digest.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates",
                                       [f"webhook:{hook}", "email:desk@example.org", f"log:{log_file}"],
                                       digest="daily")
    articles = _stories(make_article)
    _index(es_client, settings, articles)

    matched = match_articles(es_client, settings, articles, now=MORNING)
    during = deliver_digests(es_client, settings, now=MORNING + timedelta(hours=1))

    assert matched.created == 2  # two stories
    assert during.outcomes == () and not log_file.exists()  # the day has not ended: nothing sent
    assert {r.status for r in AlertStore(es_client, settings).all()} == {"digest"}

    after = deliver_digests(es_client, settings, now=NEXT_DAY)
    again = deliver_digests(es_client, settings, now=NEXT_DAY + timedelta(minutes=10))

    digest_id = digest_id_for("rates", period_containing(MORNING, "daily", "UTC"))
    [outcome] = after.outcomes
    assert (outcome.id, outcome.status, outcome.stories, len(outcome.sent)) == (digest_id, "sent", 2, 3)
    assert again.outcomes == () and again.finished_before == 1
    [post] = feed_server.requests_to("/hook")
    assert post.headers["Idempotency-Key"] == digest_id
    payload = json.loads(post.body)
    assert (payload["id"], payload["type"], payload["total"]) == (digest_id, "digest", 2)
    assert payload["period"]["start"] == "2026-11-26T00:00:00Z"
    rates, mortgages = payload["stories"]  # first seen first: the Daily copy was published at 08:00
    assert (rates["story_id"], rates["copies"], rates["outlets"]) == ("story-rates", 2, ["Daily", "Wire"])
    assert rates["first_seen"] == "2026-11-26T08:00:00Z"
    assert (mortgages["story_id"], mortgages["copies"]) == ("story-mortgages", 1)
    assert [json.loads(line)["id"] for line in log_file.read_text().splitlines()] == [digest_id]
    [mail] = smtp_inbox.messages(to="desk@example.org")
    assert mail["Message-ID"] == f"<digest-{digest_id}@newsflow>"
    assert mail["Subject"] == "[newsflow] rates: 2 stories, 2026-11-26 UTC"


def test_a_later_copy_joins_no_second_digest_and_the_next_period_gets_its_own(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path, make_article: Callable[..., Article],
) -> None:
    settings = alert_settings()
    log_file = tmp_path / "digest.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates", [f"log:{log_file}"], digest="hourly")
    wire, daily, mortgages = _stories(make_article)

    match_articles(es_client, settings, [wire], now=MORNING)
    match_articles(es_client, settings, [daily], now=MORNING + timedelta(hours=1))  # same story: no alert
    match_articles(es_client, settings, [mortgages], now=MORNING + timedelta(hours=1))
    run = deliver_digests(es_client, settings, now=MORNING + timedelta(hours=3))

    sent = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(d["total"], [s["story_id"] for s in d["stories"]]) for d in sent] == [
        (1, ["story-rates"]), (1, ["story-mortgages"])]
    assert len({d["id"] for d in sent}) == 2 and len(run.outcomes) == 2


def test_a_failed_channel_is_retried_next_run_and_the_sent_one_is_not_sent_again(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any, tmp_path: Path,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=0)
    answers = iter([Response(status=503), Response(status=204)])
    hook = feed_server.route("/hook", lambda _request: next(answers))
    log_file = tmp_path / "digest.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates", [f"log:{log_file}", f"webhook:{hook}"],
                                       digest="daily")
    match_articles(es_client, settings, _stories(make_article), now=MORNING)

    first = deliver_digests(es_client, settings, now=NEXT_DAY)
    second = deliver_digests(es_client, settings, now=NEXT_DAY + timedelta(minutes=10))

    assert [(o.status, len(o.sent), len(o.failed)) for o in first.outcomes] == [("pending", 1, 1)]
    assert [(o.status, len(o.sent), len(o.failed)) for o in second.outcomes] == [("sent", 1, 0)]
    posts = feed_server.requests_to("/hook")
    assert len(posts) == 2 and len({p.headers["Idempotency-Key"] for p in posts}) == 1
    assert len(log_file.read_text().splitlines()) == 1
    [state] = DigestStore(es_client, settings).recent()
    assert state.status == "sent" and {c.attempts for c in state.channels} == {1, 2}


def test_a_removed_rules_digest_is_dropped_not_sent(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path, make_article: Callable[..., Article],
) -> None:
    settings = alert_settings()
    log_file = tmp_path / "digest.jsonl"
    rules = RuleStore(es_client, settings)
    rules.add("rates", "interest rates", [f"log:{log_file}"], digest="daily")
    match_articles(es_client, settings, _stories(make_article), now=MORNING)
    rules.remove("rates")

    run = deliver_digests(es_client, settings, now=NEXT_DAY)

    assert [(o.status, o.errors) for o in run.outcomes] == [("dropped", ("rule removed",))]
    assert not log_file.exists()
    assert deliver_digests(es_client, settings, now=NEXT_DAY).finished_before == 1


def test_a_digest_killed_mid_delivery_is_finished_by_the_next_run_without_resending_what_was_recorded(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any, tmp_path: Path,
    make_article: Callable[..., Article],
) -> None:
    # The log channel is sent and recorded, then the process is SIGKILLed while the webhook
    # receiver holds its request. After the claim's lease, the next run sends the webhook again
    # (same digest id: the first request was never answered) and leaves the log alone.
    settings = alert_settings(delivery_lease=2.0)
    hook = feed_server.route("/hook", Response(status=204, delay=30.0))
    log_file = tmp_path / "digest.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates", [f"log:{log_file}", f"webhook:{hook}"],
                                       digest="daily", timezone="UTC")
    today = datetime.now(UTC) - timedelta(days=1)  # yesterday: its period has ended
    match_articles(es_client, settings, _stories(make_article), now=today)
    env = {**os.environ, "NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
           "NEWSFLOW_HOME": str(settings.home), "NEWSFLOW_ALERTS__DELIVERY_LEASE": "2",
           "NEWSFLOW_ALERTS__WEBHOOK_TIMEOUT": "60", "PYTHONPATH": str(REPO)}
    returncode = kill_cli_at_first_request(["alerts", "digest"], env, feed_server, "/hook",
                                           tmp_path / "digest.stderr")
    assert returncode == -signal.SIGKILL
    assert len(log_file.read_text().splitlines()) == 1

    busy = deliver_digests(es_client, settings)  # within the dead run's lease: left alone
    time.sleep(2.5)
    feed_server.route("/hook", Response(status=204))
    resumed = deliver_digests(es_client, settings)
    after = deliver_digests(es_client, settings)

    assert busy.busy == 1 and busy.outcomes == ()
    assert [(o.status, len(o.sent)) for o in resumed.outcomes] == [("sent", 1)]
    assert after.outcomes == () and after.finished_before == 1
    posts = feed_server.requests_to("/hook")
    assert len(posts) == 2 and len({p.headers["Idempotency-Key"] for p in posts}) == 1
    assert len(log_file.read_text().splitlines()) == 1  # recorded before the kill: not sent again


def test_the_cli_saves_a_digest_rule_sends_and_lists_digests(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path, make_article: Callable[..., Article],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = alert_settings()
    for name, value in {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
                        "NEWSFLOW_HOME": str(settings.home)}.items():
        monkeypatch.setenv(name, value)
    log_file = tmp_path / "digest.jsonl"
    runner = CliRunner()

    added = runner.invoke(cli, ["alerts", "add", "rates", "-q", "interest rates", "-c", f"log:{log_file}",
                                "--digest", "weekly", "--timezone", "Europe/Berlin"])
    listed = runner.invoke(cli, ["alerts", "list", "--json"])
    match_articles(es_client, settings, _stories(make_article), now=datetime.now(UTC) - timedelta(days=8))
    sent = runner.invoke(cli, ["alerts", "digest"])
    shown = runner.invoke(cli, ["alerts", "digests"])

    assert added.exit_code == 0, added.output
    assert "weekly digest (Europe/Berlin)" in added.output
    assert json.loads(listed.stdout)[0] | {"created_at": ""} == {
        "name": "rates", "query": "interest rates", "channels": [f"log:{log_file}"], "created_at": "",
        "digest": "weekly", "timezone": "Europe/Berlin"}
    assert sent.exit_code == 0, sent.output
    assert "sent    rates: 2 stories, week of" in sent.output
    assert "Europe/Berlin" in sent.output
    assert "sent    rates: 2 stories" in shown.output and "sent    log:" in shown.output
    assert "no digest to send (1 already sent)" in runner.invoke(cli, ["alerts", "digest"]).output
