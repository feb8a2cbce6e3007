"""`apprise:` channels: chat and push services through apprise, against local receivers that speak
each service's HTTP API (tests/support/chat_receivers.py), the real local Elasticsearch and the real
delivery machinery (match, claim, send, record, retry).

How each tested service is pointed at 127.0.0.1:
- ntfy: its URL names the server (`ntfy://127.0.0.1:PORT/TOPIC`); nothing patched.
- Microsoft Teams (Power Automate workflows): its URL names the host (`workflows://HOST:PORT/ID/SIG`)
  and apprise always speaks HTTPS to it; the receiver serves HTTPS with a self-signed certificate
  that the test trusts through REQUESTS_CA_BUNDLE (requests' own setting); nothing patched.
- Slack: apprise sends an incoming webhook to the constant NotifySlack.webhook_url
  (https://hooks.slack.com/services); no URL form names another host. The test replaces only that
  constant with the receiver's /services (monkeypatch); the URL, payload and answer are Slack's.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.alerts import AlertStore, RuleStore, alert_id_for, deliver_pending, match_articles
from newsflow.alerts.channels import parse_channel
from newsflow.alerts.chat import message_for
from newsflow.alerts.records import new_record
from newsflow.alerts.rules import Rule
from newsflow.cli import cli
from newsflow.core.errors import AlertError, InvalidAppriseUrl
from newsflow.core.models import Article, utc_now
from newsflow.core.redact import is_redacted_channel, redact_channel
from tests.support.chat_receivers import NtfyReceiver, SlackReceiver, TeamsWorkflowReceiver, _Receiver

SLACK = ("T0NEWSFLOW1", "B0ALERTS42", "xoxSlackS3cretT0ken9876")
TEAMS_WORKFLOW = "4b2d9c1e7f3a4e6b8c0d2e4f6a8b0c1d"
TEAMS_SIG = "TeamsSigS3cret_Qx7Lm2Np9Rt4Vw6Yz8"
NTFY_TOKEN = "tk_ntfyS3cretAccessT0ken42"
NTFY_PASSWORD = "ntfyPassw0rd!x"
SECRETS = (*SLACK, TEAMS_WORKFLOW, TEAMS_SIG, NTFY_TOKEN, NTFY_PASSWORD)


@dataclass
class Service:
    name: str
    url: str  # the apprise URL pointing at the receiver
    receiver: _Receiver


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    from apprise.plugins.slack import NotifySlack

    receiver = SlackReceiver(*SLACK)
    # The one patch: Slack's webhook base URL constant (see the module docstring).
    monkeypatch.setattr(NotifySlack, "webhook_url", receiver.webhook_base)
    yield Service("slack", "slack://{}/{}/{}/".format(*SLACK), receiver)
    receiver.close()


@pytest.fixture
def teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    receiver = TeamsWorkflowReceiver(tmp_path, TEAMS_WORKFLOW, TEAMS_SIG)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(receiver.ca_file))
    yield Service("teams", f"workflows://{receiver.host}/{TEAMS_WORKFLOW}/{TEAMS_SIG}/", receiver)
    receiver.close()


@pytest.fixture
def ntfy() -> Iterator[Service]:
    receiver = NtfyReceiver(("newsdesk",), token=NTFY_TOKEN)
    yield Service("ntfy", f"ntfy://{receiver.host}/newsdesk?token={NTFY_TOKEN}", receiver)
    receiver.close()


@pytest.fixture(params=["slack", "teams", "ntfy"])
def service(request: pytest.FixtureRequest) -> Service:
    return request.getfixturevalue(str(request.param))


def _assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} in {where}: {text[:3000]}"


def _env(settings: Any) -> dict[str, str]:
    return {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
            "NEWSFLOW_HOME": str(settings.home)}


# --- what each service receives -------------------------------------------------------------------


def test_slack_receives_the_title_and_a_mrkdwn_link_with_the_outlet(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article], slack: Service,
) -> None:
    settings = alert_settings()
    RuleStore(es_client, settings).add("rates", "rates", [f"apprise:{slack.url}"])
    article = make_article()
    match_articles(es_client, settings, [article])

    result = deliver_pending(es_client, settings)

    assert result.sent == 1
    [message] = slack.receiver.accepted
    assert message.title == "Central bank raises interest rates"
    assert message.text.startswith("*Example News* · 2026-11-26 09:00 UTC\n")
    assert "<https://example.com/news/1|Read at Example News>" in message.text  # Slack's link form
    assert alert_id_for("rates", article.id) in message.text
    payload = json.loads(message.request.body)
    assert payload["mrkdwn"] is True and payload["attachments"][0]["footer"] == "newsflow"


def test_teams_receives_an_adaptive_card_with_the_title_and_a_markdown_link(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article], teams: Service,
) -> None:
    settings = alert_settings()
    RuleStore(es_client, settings).add("rates", "rates", [f"apprise:{teams.url}"])
    match_articles(es_client, settings, [make_article()])

    result = deliver_pending(es_client, settings)

    assert result.sent == 1
    [message] = teams.receiver.accepted
    assert message.title == "Central bank raises interest rates"
    assert message.text.startswith("**Example News** · 2026-11-26 09:00 UTC\n")
    assert "[Read at Example News](https://example.com/news/1)" in message.text
    assert message.request.path.startswith(f"/workflows/{TEAMS_WORKFLOW}/triggers/manual/paths/invoke?")


def test_ntfy_receives_plain_text_and_opens_the_article_when_tapped(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article], ntfy: Service,
) -> None:
    settings = alert_settings()
    RuleStore(es_client, settings).add("rates", "rates", [f"apprise:{ntfy.url}"])
    article = make_article()
    match_articles(es_client, settings, [article])

    result = deliver_pending(es_client, settings)

    assert result.sent == 1
    [message] = ntfy.receiver.accepted
    assert message.title == "Central bank raises interest rates"
    assert message.text == ("Example News · 2026-11-26 09:00 UTC\nhttps://example.com/news/1\n"
                            f"Rule rates · alert {alert_id_for('rates', article.id)}")
    assert message.request.headers["X-Click"] == "https://example.com/news/1"


def test_ntfy_asked_for_markdown_gets_markdown(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article], ntfy: Service,
) -> None:
    settings = alert_settings()
    RuleStore(es_client, settings).add("rates", "rates", [f"apprise:{ntfy.url}&format=markdown"])
    match_articles(es_client, settings, [make_article()])

    assert deliver_pending(es_client, settings).sent == 1
    [message] = ntfy.receiver.accepted
    assert message.request.headers["X-Markdown"] == "yes"
    assert "[Read at Example News](https://example.com/news/1)" in message.text


def test_the_body_is_written_in_the_format_the_service_takes(make_article: Callable[..., Article]) -> None:
    article = make_article(source="A_B <News> & Co", url="https://example.com/a_(b)")
    rule = Rule("rates", "rates", ("log:/tmp/x",), utc_now())
    record = new_record(rule, article, utc_now())

    markdown = message_for(record, ("markdown", "text"))
    html = message_for(record, ("html",))
    text = message_for(record, ("text",))

    assert markdown.body_format == "markdown" and "**A\\_B \\<News\\> & Co**" in markdown.body
    assert "(https://example.com/a_%28b%29)" in markdown.body
    assert html.body_format == "html" and "<b>A_B &lt;News&gt; &amp; Co</b>" in html.body
    assert '<a href="https://example.com/a_(b)">' in html.body
    assert text.body_format == "text" and "A_B <News> & Co · 2026-11-26 09:00 UTC" in text.body
    assert markdown.title == html.title == text.title == "Central bank raises interest rates"


# --- failures are retried like webhook failures --------------------------------------------------


def test_a_500_from_the_service_is_retried_in_a_later_run_with_the_same_alert_once(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article],
    service: Service,
) -> None:
    settings = alert_settings(retry_backoff=60.0)
    RuleStore(es_client, settings).add("rates", "rates", [f"apprise:{service.url}"])
    article = make_article()
    alert_id = alert_id_for("rates", article.id)
    service.receiver.fail_next(1, status=500)
    now = utc_now()
    match_articles(es_client, settings, [article], now=now)

    first = deliver_pending(es_client, settings, now=now)
    [pending] = AlertStore(es_client, settings).all()
    early = deliver_pending(es_client, settings, now=now + timedelta(seconds=30))  # not due yet
    retry = deliver_pending(es_client, settings, now=now + timedelta(seconds=61))
    again = deliver_pending(es_client, settings, now=now + timedelta(seconds=3600))

    assert (first.sent, first.deferred) == (0, 1)
    delivery = pending.deliveries[0]
    assert (pending.status, delivery.status, delivery.attempts) == ("pending", "pending", 1)
    assert delivery.next_attempt_at == now + timedelta(seconds=60)
    assert "500" in delivery.last_error
    assert (early.sent, early.deferred) == (0, 0)
    assert retry.sent == 1 and again == type(again)()
    requests = service.receiver.requests
    assert len(requests) == 2  # the failed attempt and the retry, nothing after
    assert all(alert_id in request.body.decode("utf-8") for request in requests)  # the same alert
    assert len(service.receiver.accepted) == 1
    [sent] = AlertStore(es_client, settings).all()
    assert (sent.id, sent.status, sent.deliveries[0].attempts) == (alert_id, "sent", 2)


def test_a_service_that_always_fails_is_marked_failed_after_the_limit(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article], ntfy: Service,
) -> None:
    settings = alert_settings(max_delivery_attempts=2, retry_backoff=1.0)
    RuleStore(es_client, settings).add("rates", "rates", [f"apprise:{ntfy.url}"])
    ntfy.receiver.fail_next(10, status=500)
    now = utc_now()
    match_articles(es_client, settings, [make_article()], now=now)

    first = deliver_pending(es_client, settings, now=now)
    last = deliver_pending(es_client, settings, now=now + timedelta(seconds=5))

    assert (first.deferred, last.failed) == (1, 1)
    [failure] = last.failures
    assert failure.attempts == 2 and "ntfy" in failure.error and "error=500" in failure.error
    assert failure.channel == redact_channel(f"apprise:{ntfy.url}")


def test_a_send_is_bounded_by_the_apprise_timeout(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article],
) -> None:
    from tests.support.feedserver import FeedServer, Response

    settings = alert_settings(apprise_timeout=1.0)
    with FeedServer() as stalled:
        stalled.route("/", Response(status=200, body=b"{}", delay=4.0))
        RuleStore(es_client, settings).add(
            "rates", "rates", [f"apprise:ntfy://{stalled.base_url.removeprefix('http://')}/newsdesk"])
        now = utc_now()
        match_articles(es_client, settings, [make_article()], now=now)

        started = time.monotonic()
        result = deliver_pending(es_client, settings, now=now)
        took = time.monotonic() - started

    assert result.deferred == 1 and took < 3.5, took
    [record] = AlertStore(es_client, settings).all()
    assert "no answer within 1 s" in record.deliveries[0].last_error


# --- checked when the rule is saved ----------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "slack://T0NEWSFLOW1/B0ALERTS42/xoxSlackS3cretT0ken9876/#news",
    "https://hooks.slack.com/services/T0NEWSFLOW1/B0ALERTS42/xoxSlackS3cretT0ken9876",
    f"workflows://acme.westeurope.logic.azure.com/{TEAMS_WORKFLOW}/{TEAMS_SIG}",
    "tgram://987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567890",
    "discord://123456789012345678/AbCdEf-ghIJkl_mnOPqrs0123456789",
    "matrix://newsbot:matrixPassw0rd@matrix.example.org/#newsroom",
    "ntfys://ntfy.sh/newsflow-desk-7f3k",
    "mmost://chat.example.org/8d7f6e5a4b3c2d1e0f9a8b7c6d",
])
def test_urls_of_the_services_apprise_knows_are_accepted_as_written(url: str) -> None:
    assert parse_channel(f"apprise:{url}").text == f"apprise:{url}"


@pytest.mark.parametrize(("channel", "problem"), [
    ("apprise:slack://T0NEWSFLOW1", "Slack"),
    ("apprise:tgram://notabottoken/12345", "Unparseable Telegram URL"),
    ("apprise:nosuchservice://host/x", "has no service nosuchservice://"),
    ("apprise:just-words", "not a service URL"),
    ("apprise:dbus://", "disabled on this system"),
    ("apprise:", "nothing after 'apprise:'"),
])
def test_a_url_apprise_cannot_use_is_refused_naming_the_problem(channel: str, problem: str) -> None:
    with pytest.raises(AlertError) as refused:
        parse_channel(channel)

    assert problem in str(refused.value)
    if channel != "apprise:":
        assert isinstance(refused.value, InvalidAppriseUrl)
        tail = channel.partition("://")[2]  # what follows the scheme may be a token: never quoted
        assert refused.value.problem and (len(tail) < 6 or tail not in str(refused.value))


def test_a_service_url_without_the_apprise_prefix_says_how_to_write_it() -> None:
    with pytest.raises(AlertError, match=r"write apprise:slack://") as refused:
        parse_channel("slack://T0NEWSFLOW1/B0ALERTS42/xoxSlackS3cretT0ken9876")
    _assert_no_secret(str(refused.value), "the error")


def test_the_cli_refuses_a_bad_apprise_url_when_the_rule_is_added(alert_settings: Callable[..., Any]) -> None:
    settings = alert_settings()
    refused = CliRunner().invoke(cli, ["alerts", "add", "rates", "-q", "rates", "-c",
                                       f"apprise:slack://{SLACK[0]}/{SLACK[1]}"], env=_env(settings))

    assert refused.exit_code != 0
    assert "invalid channel 'apprise:slack://***'" in refused.output and "Slack" in refused.output
    _assert_no_secret(refused.output, "the CLI output")


# --- secrets: only the rule store keeps them ------------------------------------------------------


@pytest.mark.parametrize(("url", "secrets", "shown"), [
    ("slack://T0NEWSFLOW1/B0ALERTS42/xoxSlackS3cretT0ken9876/#news", SLACK, "slack://***/***/***/%23news/"),
    (f"workflows://acme.logic.azure.com:443/{TEAMS_WORKFLOW}/{TEAMS_SIG}", (TEAMS_WORKFLOW, TEAMS_SIG),
     "workflow://acme.logic.azure.com:443/***/***/"),
    ("tgram://987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567890",
     ("987654321", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"), "tgram://***/-1001234567890/"),
    ("discord://123456789012345678/AbCdEf-ghIJkl_mnOPqrs0123456789",
     ("123456789012345678", "AbCdEf-ghIJkl_mnOPqrs0123456789"), "discord://***/***/"),
    (f"ntfy://desk:{NTFY_PASSWORD}@ntfy.example.org/newsdesk", (NTFY_PASSWORD,),
     "ntfy://desk:***@ntfy.example.org/newsdesk"),
    (f"ntfys://ntfy.example.org/newsdesk?token={NTFY_TOKEN}&priority=high", (NTFY_TOKEN,),
     "ntfys://***@ntfy.example.org/newsdesk?priority=high"),
    ("ntfys://ntfy.sh/newsflow-desk-7f3k", ("newsflow-desk-7f3k",), "ntfys://ntfy.sh/***"),
    ("matrix://newsbot:matrixPassw0rd@matrix.example.org/#newsroom", ("matrixPassw0rd",),
     "matrix://newsbot:***@matrix.example.org/%23newsroom"),
    ("json://hooks.example.org/alerts?+Authorization=Bearer%20abcdefSecret", ("abcdefSecret",),
     "json://hooks.example.org/alerts?+Authorization=***"),
])
def test_apprise_channels_are_redacted_with_apprise_privacy_forms(
    url: str, secrets: tuple[str, ...], shown: str,
) -> None:
    redacted = redact_channel(f"apprise:{url}")

    assert redacted.startswith(f"apprise:{shown}#") and is_redacted_channel(redacted)
    for secret in secrets:
        assert secret not in redacted
    assert redact_channel(redacted) == redacted  # redacting twice changes nothing
    assert redact_channel("apprise:ntfy://127.0.0.1:8080/newsdesk") == "apprise:ntfy://127.0.0.1:8080/newsdesk"
    assert redact_channel("apprise:slack://bad").startswith("apprise:slack://***#")  # unreadable


def test_a_failing_apprise_channel_leaks_no_secret_into_logs_report_index_cli_or_page(
    alert_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article],
    slack: Service, teams: Service, caplog: pytest.LogCaptureFixture,
) -> None:
    from newsflow.alerts.overview import RuleWithAlerts
    from newsflow.app import plugin_page
    from newsflow.app.cycle import CycleReport, Pipeline
    from newsflow.app.tasks import process_alerts

    settings = alert_settings(max_delivery_attempts=1)
    ntfy_receiver = NtfyReceiver(("newsdesk",), token=NTFY_TOKEN)
    ntfy_url = f"ntfy://desk:{NTFY_PASSWORD}@{ntfy_receiver.host}/newsdesk?auth=basic&token={NTFY_TOKEN}"
    channels = [f"apprise:{slack.url}", f"apprise:{teams.url}", f"apprise:{ntfy_url}"]
    for receiver in (slack.receiver, teams.receiver, ntfy_receiver):
        receiver.fail_next(5, status=500)
    env = _env(settings)
    added = CliRunner().invoke(cli, ["alerts", "add", "rates", "-q", "rates",
                                     *[arg for c in channels for arg in ("-c", c)]], env=env)
    assert added.exit_code == 0, added.output
    from newsflow.index.store import ArticleStore

    ArticleStore(es_client, settings).write([make_article()], alert_pending=True)

    caplog.set_level(1)  # everything: apprise's TRACE and DEBUG lines (payloads, URLs), urllib3's
    for name in ("apprise", "urllib3", "httpx"):
        caplog.set_level(1, logger=name)
    try:
        pipeline = Pipeline(settings)
        try:
            report = pipeline.alerts()  # what `newsflow run` reports
        finally:
            pipeline.close()
        run_json = json.dumps(CycleReport(alerts=report).to_json())
        xcom = process_alerts(settings=settings)  # what the news_ingest DAG's alerts task returns
    finally:
        ntfy_receiver.close()

    assert report.failed == 3, report
    assert len(slack.receiver.requests) == len(teams.receiver.requests) == len(ntfy_receiver.requests) == 1
    assert "Slack POST URL" in caplog.text and "Workflows" in caplog.text  # apprise did log, scrubbed
    _assert_no_secret(caplog.text, "the log")
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
        assert redact_channel(channels[0]) in output
    [rule] = RuleStore(es_client, settings).list()
    html = plugin_page.rules_section(
        [RuleWithAlerts(rule, tuple(AlertStore(es_client, settings).all()))])
    _assert_no_secret(html, "the plugin page")
    assert "apprise:slack, apprise:workflows, apprise:ntfy" in html
    # The rule store keeps the URLs themselves: that is how the alerts were delivered.
    assert rule.channels == tuple(channels)


def test_the_cli_shows_apprise_channels_redacted(
    alert_settings: Callable[..., Any], es_client: Any, slack: Service,
) -> None:
    settings = alert_settings()
    env = _env(settings)
    added = CliRunner().invoke(cli, ["alerts", "add", "desk", "--query", "rates", "--channel",
                                     f"apprise:{slack.url}"], env=env)
    listed = CliRunner().invoke(cli, ["alerts", "list"], env=env)

    assert added.exit_code == 0 and listed.exit_code == 0, added.output + listed.output
    shown = redact_channel(f"apprise:{slack.url}")
    assert shown.startswith("apprise:slack://***/***/***/#")
    assert f"  -> {shown}" in added.output
    assert listed.output.strip() == f"desk\trates\t{shown}"
    _assert_no_secret(added.output + listed.output, "the CLI output")


def test_log_records_quoting_an_apprise_url_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    from newsflow.core.apprise_urls import install_log_scrubbing, load_service

    load_service(f"workflows://acme.logic.azure.com/{TEAMS_WORKFLOW}/{TEAMS_SIG}")
    install_log_scrubbing()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s', "https", "acme.logic.azure.com", 443, "POST",
        f"/workflows/{TEAMS_WORKFLOW}/triggers/manual/paths/invoke?sig={TEAMS_SIG}", "HTTP/1.1", 202, 0)

    assert "/workflows/***/triggers/manual/paths/invoke?sig=***" in caplog.text
    _assert_no_secret(caplog.text, "the log")
