"""Secrets in channel and feed URLs: a webhook URL is a credential. Outside the rule store (which must
keep it to deliver) it appears only redacted: in logs, the run report (and XCom), the alerts index and
CLI output. Retries read back from the alerts index still reach the real URL.

Real parts: a failing local webhook receiver, the real local Elasticsearch, the real CLI (CliRunner).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.alerts import AlertStore, RuleStore, deliver_pending, match_articles
from newsflow.cli import cli
from newsflow.cli.feeds import health
from newsflow.core.models import Article, utc_now
from newsflow.core.redact import redact_channel, redact_text, redact_url
from newsflow.index.store import ArticleStore
from tests.support.feedserver import Response

PATH_TOKEN = "T0kenInThePath9f8e7d6c5b4a"
QUERY_TOKEN = "qs-secret-42"


def _env(settings: Any) -> dict[str, str]:
    return {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
            "NEWSFLOW_HOME": str(settings.home)}


def _assert_no_secret(text: str, where: str) -> None:
    for secret in (PATH_TOKEN, QUERY_TOKEN):
        assert secret not in text, f"{secret} in {where}: {text[:2000]}"


def test_a_failing_webhook_with_tokens_leaks_them_into_no_log_report_record_or_cli_output(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article], caplog: pytest.LogCaptureFixture,
) -> None:
    from newsflow.app.cycle import Pipeline
    from newsflow.app.report import CycleReport
    from newsflow.app.tasks import process_alerts

    settings = alert_settings(max_delivery_attempts=1, webhook_retries=1)
    hook = feed_server.route(f"/hooks/{PATH_TOKEN}", Response(status=503))
    url = f"{hook}?token={QUERY_TOKEN}&team=news"
    env = _env(settings)
    added = CliRunner().invoke(cli, ["alerts", "add", "rates", "-q", "rates", "-c", f"webhook:{url}"],
                               env=env)
    assert added.exit_code == 0, added.output
    ArticleStore(es_client, settings).write([make_article()], alert_pending=True)

    caplog.set_level(logging.DEBUG)  # everything, httpx's request lines included
    caplog.set_level(logging.DEBUG, logger="httpx")  # (the CLI quietens it)
    pipeline = Pipeline(settings)
    try:
        report = pipeline.alerts()  # what `newsflow run` reports
    finally:
        pipeline.close()
    run_json = json.dumps(CycleReport(alerts=report).to_json())
    xcom = process_alerts(settings=settings)  # what the news_ingest DAG's alerts task returns

    assert len(feed_server.requests_to(f"/hooks/{PATH_TOKEN}")) == 2  # delivered to the real URL
    assert report.failed == 1 and "HTTP 503" in report.failures[0]
    assert redact_url(url) in report.failures[0]
    _assert_no_secret(caplog.text, "the log")
    assert "HTTP Request: POST" in caplog.text  # httpx did log the request, redacted
    _assert_no_secret(json.dumps(xcom), "XCom")
    _assert_no_secret(run_json, "the run JSON")
    raw = es_client.search(index=settings.index_name("alerts"), query={"match_all": {}})
    assert raw["hits"]["total"]["value"] == 1
    _assert_no_secret(json.dumps(raw.body), "the alerts index")
    outputs = [added.output] + [
        CliRunner().invoke(cli, args, env=env).output
        for args in (["alerts", "list"], ["alerts", "list", "--json"], ["alerts", "recent"],
                     ["alerts", "recent", "--json"])]
    for output in outputs:
        _assert_no_secret(output, "CLI output")
        assert redact_url(url) in output
    # The rule store keeps the URL itself: that is how the alert was delivered.
    [rule] = RuleStore(es_client, settings).list()
    assert rule.channels == (f"webhook:{url}",)


def test_a_retry_read_back_from_the_alerts_index_reaches_the_real_url(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=0)
    calls = {"n": 0}

    def fails_once(_: Any) -> Response:
        calls["n"] += 1
        return Response(status=503 if calls["n"] == 1 else 200)

    hook = feed_server.route(f"/hooks/{PATH_TOKEN}", fails_once)
    url = f"{hook}?token={QUERY_TOKEN}"
    rules = RuleStore(es_client, settings)
    rules.add("rates", "rates", [f"webhook:{url}"])
    now = utc_now()
    match_articles(es_client, settings, [make_article()], now=now)

    first = deliver_pending(es_client, settings, now=now)
    retry = deliver_pending(es_client, settings, now=now + timedelta(seconds=61))

    assert (first.deferred, retry.sent) == (1, 1)
    posts = feed_server.requests_to(f"/hooks/{PATH_TOKEN}")
    assert [p.path for p in posts] == [f"/hooks/{PATH_TOKEN}?token={QUERY_TOKEN}"] * 2
    [record] = AlertStore(es_client, settings).all()
    assert record.deliveries[0].channel == redact_channel(f"webhook:{url}")
    assert (record.status, record.deliveries[0].attempts) == ("sent", 2)


def test_a_retry_whose_rule_was_removed_fails_with_a_clear_reason(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article], tmp_path: Path,
) -> None:
    settings = alert_settings()
    hook = feed_server.route(f"/hooks/{PATH_TOKEN}", Response(status=200))
    rules = RuleStore(es_client, settings)
    rules.add("rates", "rates", [f"webhook:{hook}?token={QUERY_TOKEN}", f"log:{tmp_path / 'alerts.jsonl'}"])
    now = utc_now()
    match_articles(es_client, settings, [make_article()], now=now)
    rules.remove("rates")

    result = deliver_pending(es_client, settings, now=now)

    assert feed_server.requests_to(f"/hooks/{PATH_TOKEN}") == []
    # The log channel needs no secret: delivered as before. The webhook waits for its rule (added
    # again with the same URL, it would be found) until its attempts run out.
    assert (result.sent, result.deferred) == (1, 1)
    [record] = AlertStore(es_client, settings).all()
    webhook = next(d for d in record.deliveries if d.kind == "webhook")
    assert "no longer has this channel" in webhook.last_error
    _assert_no_secret(json.dumps(record.to_source()), "the alert record")


def test_feed_health_shows_feed_urls_without_credentials_or_tokens() -> None:
    from ingest.types import FeedState

    url = "https://reader:hunter22@feeds.example.com/rss/world.xml?api_key=K3yK3yK3y&lang=en"
    state = FeedState(key="k", url=url, last_status="failed",
                      last_error=f"HTTP 401 from {url}", consecutive_failures=1)

    entry = health(None, state)

    assert entry["url"] == "https://feeds.example.com/rss/world.xml?api_key=***&lang=en"
    text = json.dumps(entry)
    assert "hunter22" not in text and "K3yK3yK3y" not in text and "reader" not in text
    assert entry["last_error"] == f"HTTP 401 from {entry['url']}"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx",
     "https://hooks.slack.com/services/***/***/***"),
    ("https://discord.com/api/webhooks/123456789012345678/AbCdEf-ghIJkl_mnOPqrs0123456789",
     "https://discord.com/api/webhooks/***/***"),
    ("https://acme.webhook.office.com/webhookb2/3f1c2b4e-8d9a-4f6b-9c1d-2e3f4a5b6c7d@3f1c2b4e-8d9a-"
     "4f6b-9c1d-2e3f4a5b6c7d/IncomingWebhook/0123456789abcdef0123456789abcdef/3f1c2b4e-8d9a-4f6b-9c1d-"
     "2e3f4a5b6c7d", "https://acme.webhook.office.com/webhookb2/***/***/***/***"),
    ("https://user:pa55word@feeds.example.com:8443/rss/world.xml?apikey=XYZ&lang=en#frag",
     "https://feeds.example.com:8443/rss/world.xml?apikey=***&lang=en"),
    ("https://api.example.com/notify?Access-Token=a&sig=b&signature=c&auth=d&hmac=e&password=f&key=g",
     "https://api.example.com/notify?Access-Token=***&sig=***&signature=***&auth=***&hmac=***"
     "&password=***&key=***"),
    ("http://127.0.0.1:8000/hook/9f8e7d6c5b4a39281706f5e4d3c2b1a0", "http://127.0.0.1:8000/hook/***"),
    ("https://www.example.com/2024/11/26/central-bank-raises-interest-rates.html?page=2",
     "https://www.example.com/2024/11/26/central-bank-raises-interest-rates.html?page=2"),
    ("http://[::1]:9000/feed.xml", "http://[::1]:9000/feed.xml"),
    ("samples/feeds/world.xml", "samples/feeds/world.xml"),
    ("http://example.com:99999/x", "***"),
])
def test_redact_url_keeps_where_a_url_goes_and_masks_its_secrets(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_url(expected) == expected or expected == "***"  # redacting twice changes nothing


def test_redact_text_scrubs_a_url_quoted_whole_in_parts_or_decoded() -> None:
    url = f"https://hooks.example.com/hooks/{PATH_TOKEN}?token={QUERY_TOKEN}%21"
    message = (f"ConnectError: failed for URL('{url}') (path /hooks/{PATH_TOKEN}, "
               f"token {QUERY_TOKEN}!)")

    scrubbed = redact_text(message, url)

    _assert_no_secret(scrubbed, "the message")
    assert "hooks.example.com" in scrubbed and scrubbed.startswith("ConnectError: failed for URL(")


def test_two_hooks_that_redact_alike_stay_distinct_channels() -> None:
    first = redact_channel("webhook:https://hooks.slack.com/services/T1/B1/aaaaaaaaaaaaaaaa")
    second = redact_channel("webhook:https://hooks.slack.com/services/T1/B2/bbbbbbbbbbbbbbbb")

    assert first != second
    assert first.startswith("webhook:https://hooks.slack.com/services/***/***/***#")
    assert redact_channel(first) == first
    assert redact_channel("email:desk@example.org") == "email:desk@example.org"
    assert redact_channel("webhook:http://127.0.0.1:8000/hook") == "webhook:http://127.0.0.1:8000/hook"


def test_log_paths_keep_their_channel_text(tmp_path: Path) -> None:
    assert redact_channel(f"log:{tmp_path}/alerts.jsonl") == f"log:{tmp_path}/alerts.jsonl"


def test_httpx_request_lines_are_logged_with_the_url_redacted(caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    import newsflow.app.cycle  # noqa: F401 - installs the filter, as every cycle does

    url = f"https://reader:hunter22@feeds.example.com/rss.xml?api_key={QUERY_TOKEN}"
    caplog.set_level(logging.INFO, logger="httpx")
    logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "GET", httpx.URL(url), "HTTP/1.1 200 OK")

    assert "HTTP Request: GET https://feeds.example.com/rss.xml?api_key=*** " in caplog.text
    assert QUERY_TOKEN not in caplog.text and "hunter22" not in caplog.text
