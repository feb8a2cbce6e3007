"""Volume rules: an entity's spike or first appearance alerts once per (rule, value, window) and
cool-down, through the usual channels; proven by re-running and by a SIGKILL mid-delivery. Against
the real Elasticsearch, with articles indexed at known times."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.alerts import AlertRun, RuleStore
from newsflow.alerts.records import AlertArticle
from newsflow.alerts.rules import Signal
from newsflow.alerts.signals import (
    WindowCount,
    bucket_start,
    check_signals,
    cooldown_ids,
    find_signal_hits,
    signal_alert_id,
)
from newsflow.cli import cli
from newsflow.core.errors import AlertError
from newsflow.core.models import Article
from newsflow.index.store import ArticleStore
from tests.conftest import REPO
from tests.support.feedserver import Response
from tests.support.killed_cli import kill_cli_at_first_request

HOUR = 3600.0


# --- the decisions (pure) ------------------------------------------------------------------------

def _counted(value: str, count: int) -> WindowCount:
    first = AlertArticle("a", "t", "https://example.com/a", "Example", datetime(2026, 12, 1, tzinfo=UTC))
    return WindowCount(value=value, count=count, stories=count, first=first, first_story="s")


def test_a_spike_is_threshold_times_the_usual_count_and_at_least_min_count() -> None:
    spike = Signal("spike", "persons", window=HOUR, threshold=3.0, min_count=3, baseline=10 * HOUR)
    start, end = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)
    window = [_counted("New Name", 3), _counted("Usual Name", 5), _counted("Rising Name", 7),
              _counted("Rare Name", 2)]
    baseline = {"Usual Name": 20, "Rising Name": 20, "Rare Name": 0}  # 2 per window usually

    hits = find_signal_hits(spike, window, baseline, start, end)

    assert [(w.value, h.count, h.baseline_mean) for w, h in hits] == [("New Name", 3, 0.0),
                                                                      ("Rising Name", 7, 2.0)]
    assert hits[1][1].headline == "Spike: Rising Name (persons), 7 articles in 1h (2.0 usually)"


def test_first_seen_is_a_value_no_baseline_article_names() -> None:
    first = Signal("first_seen", "organizations", window=HOUR, min_count=2, baseline=30 * 24 * HOUR)
    start, end = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)

    hits = find_signal_hits(first, [_counted("Brand New Ltd", 2), _counted("Old Corp", 9)], {"Old Corp": 1},
                            start, end)

    assert [h.value for _, h in hits] == ["Brand New Ltd"]
    assert hits[0][1].headline == "First seen: Brand New Ltd (organizations), 2 articles in 1h"


def test_one_id_per_rule_value_and_bucket_and_the_cooldown_covers_the_buckets_before() -> None:
    spike = Signal("spike", "persons", window=HOUR, cooldown=3 * HOUR)
    now = datetime(2026, 12, 1, 10, 40, tzinfo=UTC)
    bucket = bucket_start(now, HOUR)

    assert bucket == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert bucket_start(now + timedelta(minutes=15), HOUR) == bucket
    assert signal_alert_id("r", "X", bucket) != signal_alert_id("r", "Y", bucket)
    assert cooldown_ids("r", "X", bucket, spike) == [
        signal_alert_id("r", "X", bucket - timedelta(hours=n)) for n in (1, 2, 3)]


def test_a_volume_rule_is_checked_when_saved(es_client: Any, settings: Any) -> None:
    rules = RuleStore(es_client, settings)
    with pytest.raises(AlertError, match="persons, organizations, locations, topics"):
        rules.add("r", "*", ["log:/tmp/x.jsonl"], signal=Signal("spike", "title"))
    with pytest.raises(AlertError, match="baseline must be longer"):
        rules.add("r", "*", ["log:/tmp/x.jsonl"],
                  signal=Signal("spike", "persons", window=HOUR, baseline=HOUR))


# --- against Elasticsearch -----------------------------------------------------------------------

# Ten hours ago at half past: the checks at NOW + 2 h and NOW + 7 h still count only past articles.
NOW = (datetime.now(UTC) - timedelta(hours=10)).replace(minute=30, second=0, microsecond=0)


def _article(make_article: Callable[..., Article], n: int, published: datetime, persons: tuple[str, ...],
             story: str = "") -> Article:
    return make_article(f"https://example.com/{published:%d%H%M}/{n}", title=f"Story {n}", source="Example",
                        persons=persons, published_at=published, ingested_at=published,
                        story_id=story or f"story-{published:%d%H%M}-{n}")


def _index(es_client: Any, settings: Any, articles: list[Article]) -> None:
    store = ArticleStore(es_client, settings)
    store.write(articles)
    store.refresh()


def _spiking(make_article: Callable[..., Article], at: datetime, tag: str, *,
             usual: bool = True) -> list[Article]:
    """Five articles naming Olaf Scholz in the hour before `at` (two of them one story), and five
    naming Usual Name, who is named twice an hour in the baseline (so five is not a spike)."""
    scholz = [_article(make_article, n, at - timedelta(minutes=5 + n), ("Olaf Scholz",),
                       story=f"scholz-{tag}" if n < 2 else "") for n in range(5)]
    return scholz + ([_article(make_article, 10 + n, at - timedelta(minutes=20 + n), ("Usual Name",))
                      for n in range(5)] if usual else [])


@pytest.fixture
def spike_rule(alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path,
               make_article: Callable[..., Article]) -> tuple[Any, Path]:
    settings = alert_settings()
    log_file = tmp_path / "signals.jsonl"
    RuleStore(es_client, settings).add(
        "people-spiking", "*", [f"log:{log_file}"],
        signal=Signal("spike", "persons", window=HOUR, threshold=3.0, min_count=3,
                      cooldown=6 * HOUR, baseline=10 * HOUR))
    # Usual Name four times an hour over the ten hours before the window.
    baseline = [_article(make_article, 100 + n, NOW - timedelta(hours=1, minutes=15 * n + 10),
                         ("Usual Name",)) for n in range(40)]
    _index(es_client, settings, baseline + _spiking(make_article, NOW, "first"))
    return settings, log_file


def test_a_spike_alerts_once_per_window_and_again_only_after_the_cooldown(
    spike_rule: tuple[Any, Path], es_client: Any, make_article: Callable[..., Article],
) -> None:
    settings, log_file = spike_rule

    first = check_signals(es_client, settings, now=NOW)
    again = check_signals(es_client, settings, now=NOW + timedelta(minutes=10))  # the same window
    _index(es_client, settings, _spiking(make_article, NOW + timedelta(hours=2), "later"))
    # Spiking again two hours later, within the cool-down:
    cooling = check_signals(es_client, settings, now=NOW + timedelta(hours=2))
    _index(es_client, settings, _spiking(make_article, NOW + timedelta(hours=7), "after"))
    cooled = check_signals(es_client, settings, now=NOW + timedelta(hours=7))

    assert (first.created, again.created, cooling.created, cooled.created) == (1, 0, 0, 1)
    assert again.already_recorded == 1
    alerts = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [a["signal"]["value"] for a in alerts] == ["Olaf Scholz", "Olaf Scholz"]
    signal_seen = alerts[0]["signal"]
    assert (signal_seen["kind"], signal_seen["field"], signal_seen["count"], signal_seen["stories"]) == (
        "spike", "persons", 5, 4)
    assert alerts[0]["article"]["title"] == "Story 4"  # the earliest of the window's articles
    assert alerts[0]["rule"] == "people-spiking" and alerts[0]["id"] != alerts[1]["id"]


def test_a_cycles_alert_run_checks_the_volume_rules(
    spike_rule: tuple[Any, Path], es_client: Any,
) -> None:
    settings, log_file = spike_rule
    run = AlertRun(es_client, settings)

    totals = run.deliver(now=NOW)

    assert (totals.created, totals.sent) == (1, 1)
    assert len(log_file.read_text().splitlines()) == 1


def test_first_seen_alerts_on_a_new_name_and_not_on_a_known_one(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path, make_article: Callable[..., Article],
) -> None:
    settings = alert_settings()
    log_file = tmp_path / "first.jsonl"
    RuleStore(es_client, settings).add("new-people", "*", [f"log:{log_file}"],
                                       signal=Signal("first_seen", "persons", window=HOUR, min_count=2,
                                                     baseline=30 * 24 * HOUR))
    _index(es_client, settings, [
        _article(make_article, 1, NOW - timedelta(days=3), ("Known Person",)),
        _article(make_article, 2, NOW - timedelta(minutes=10), ("Known Person", "Brand New Person")),
        _article(make_article, 3, NOW - timedelta(minutes=20), ("Known Person", "Brand New Person")),
    ])

    created = check_signals(es_client, settings, now=NOW).created

    assert created == 1
    [alert] = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert (alert["signal"]["kind"], alert["signal"]["value"]) == ("first_seen", "Brand New Person")


def test_a_spike_alert_killed_mid_delivery_is_sent_again_with_its_id_and_then_never(
    spike_rule: tuple[Any, Path], es_client: Any, feed_server: Any, tmp_path: Path,
    make_article: Callable[..., Article],
) -> None:
    settings, _ = spike_rule
    # The CLI checks the last hour before the real time: Olaf Scholz spikes there too.
    _index(es_client, settings, _spiking(make_article, datetime.now(UTC), "live", usual=False))
    hook = feed_server.route("/hook", Response(status=204, delay=30.0))
    RuleStore(es_client, settings).add(
        "people-spiking", "*", [f"webhook:{hook}"],
        signal=Signal("spike", "persons", window=HOUR, threshold=3.0, min_count=3, baseline=10 * HOUR))
    env = {**os.environ, "NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
           "NEWSFLOW_HOME": str(settings.home), "NEWSFLOW_ALERTS__DELIVERY_LEASE": "2",
           # The lock is stretched to cover a send's budget (3 x the timeout): 15 s here.
           "NEWSFLOW_ALERTS__WEBHOOK_TIMEOUT": "5", "NEWSFLOW_ALERTS__WEBHOOK_RETRIES": "0",
           "PYTHONPATH": str(REPO)}
    returncode = kill_cli_at_first_request(["alerts", "signals"], env, feed_server, "/hook",
                                           tmp_path / "signals.stderr")
    assert returncode == -signal.SIGKILL

    feed_server.route("/hook", Response(status=204))
    resumed = check_signals(es_client, settings)  # waits until the dead run's recording lock runs out
    after = check_signals(es_client, settings)

    assert (resumed.created, resumed.delivery.sent) == (1, 1)
    assert (after.created, after.already_recorded) == (0, 1)
    posts = feed_server.requests_to("/hook")
    assert len(posts) == 2 and len({p.headers["Idempotency-Key"] for p in posts}) == 1
    assert json.loads(posts[1].body)["signal"]["value"] == "Olaf Scholz"


def test_the_cli_saves_and_describes_a_volume_rule(
    alert_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = alert_settings()
    for name, value in {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
                        "NEWSFLOW_HOME": str(settings.home)}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    added = runner.invoke(cli, ["alerts", "add", "orgs-new", "--first-seen", "organizations",
                                "--window", "2h", "--min-count", "2", "-c", "log:/tmp/orgs.jsonl"])
    listed = runner.invoke(cli, ["alerts", "list", "--json"])
    no_query = runner.invoke(cli, ["alerts", "add", "plain", "-c", "log:/tmp/x.jsonl"])
    checked = runner.invoke(cli, ["alerts", "signals", "--json"])

    assert added.exit_code == 0, added.output
    assert ("first seen in organizations: at least 2 articles in 2h, none in the 30d before; once per "
            "value per 2h, then quiet for 6h") in added.output
    assert json.loads(listed.stdout)[0]["signal"] == {
        "kind": "first_seen", "field": "organizations", "window": 7200.0, "threshold": 3.0, "min_count": 2,
        "cooldown": 21600.0, "baseline": 2592000.0}
    assert no_query.exit_code == 2 and "give --query" in no_query.output
    assert checked.exit_code == 0 and json.loads(checked.stdout)["created"] == 0
