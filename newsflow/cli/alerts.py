"""`newsflow alerts add|list|remove|recent|digest|digests`: manage saved queries and see what they sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from elasticsearch import Elasticsearch

from newsflow.alerts.digests import DigestStore, deliver_digests
from newsflow.alerts.rules import DIGEST_PERIODS, Rule, RuleStore
from newsflow.alerts.store import AlertStore
from newsflow.core.errors import AlertError
from newsflow.core.es import make_client
from newsflow.core.models import format_utc
from newsflow.core.redact import redact_channel
from newsflow.core.settings import Settings, load_settings


@contextmanager
def _connect() -> Iterator[tuple[Elasticsearch, Settings]]:
    settings = load_settings()
    client = make_client(settings)
    try:
        yield client, settings
    finally:
        client.close()


@click.group("alerts")
def command() -> None:
    """Saved queries, matched against every new article; each alerts once per story.

    \b
    CHANNEL is one of:
      webhook:URL      HTTP POST of the alert JSON (Idempotency-Key: the alert id)
      apprise:URL      a chat or push message through apprise: apprise:slack://A/B/C,
                       apprise:workflows://HOST/ID/SIG (Teams), apprise:tgram://BOT/CHAT,
                       apprise:discord://ID/TOKEN, apprise:matrix://…, apprise:ntfys://ntfy.sh/TOPIC
                       and every other service apprise knows (https://appriseit.com/services/)
      email:ADDRESS    via the SMTP server in NEWSFLOW_ALERTS__SMTP_* (see docs/alerts.md)
      log:PATH         one JSON object per line, appended
    """


@command.command("add")
@click.argument("name")
@click.option("--query", "-q", required=True,
              help='Lucene query string, e.g. \'persons:"Angela Merkel" AND topics:politics\'.')
@click.option("--channel", "-c", "channels", multiple=True, required=True,
              help="Where alerts go (repeatable): webhook:URL, apprise:URL, email:ADDRESS or log:PATH.")
@click.option("--digest", type=click.Choice(DIGEST_PERIODS), default=None,
              help="Send this rule's alerts together, one message per hour, day or week "
                   "(each story once), instead of each at once.")
@click.option("--timezone", "timezone", default="UTC", show_default=True,
              help="Time zone of the digest's days and weeks (an IANA name, e.g. Europe/Berlin).")
@click.option("--on-edit", "on_edit", is_flag=True,
              help="Also alert when a matching article is edited (its content changed), once per edit.")
def add(name: str, query: str, channels: tuple[str, ...], digest: str | None, timezone: str,
        on_edit: bool) -> None:
    """Save rule NAME (replacing a rule of the same name). An invalid query is refused."""
    with _connect() as (client, settings):
        rule = RuleStore(client, settings).add(name, query, channels, digest=digest or "",
                                               timezone=timezone, on_edit=on_edit)
        if rule.digest or rule.on_edit:
            AlertStore(client, settings).ensure()  # an older alerts index gains the new fields
    click.echo(f"saved rule {rule.name}: {rule.query}")
    if rule.on_edit:
        click.echo("  also alerts on each edit of a matching article (once per revision)")
    if rule.digest:
        click.echo(f"  {rule.digest} digest ({rule.timezone}), sent after each period ends "
                   "(the news_digests DAG, or `newsflow alerts digest`)")
    for channel in rule.channels:
        click.echo(f"  -> {redact_channel(channel)}")


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
def list_rules(as_json: bool) -> None:
    """Show the saved rules."""
    with _connect() as (client, settings):
        rules = RuleStore(client, settings).list()
    if as_json:
        click.echo(json.dumps([_rule_json(rule) for rule in rules], ensure_ascii=False, indent=2))
        return
    if not rules:
        click.echo("no rules (add one with `newsflow alerts add NAME --query QUERY --channel CHANNEL`)")
    for rule in rules:
        digest = f"\t{rule.digest} digest ({rule.timezone})" if rule.digest else ""
        digest += "\ton edit" if rule.on_edit else ""
        click.echo(f"{rule.name}\t{rule.query}\t{' '.join(redact_channel(c) for c in rule.channels)}{digest}")


@command.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete rule NAME (the alerts it already sent are kept)."""
    with _connect() as (client, settings):
        removed = RuleStore(client, settings).remove(name)
    if not removed:
        raise AlertError(f"no rule named {name!r} (see `newsflow alerts list`)")
    click.echo(f"removed rule {name}")


@command.command("recent")
@click.option("--limit", "-n", default=20, show_default=True, help="How many alerts.")
@click.option("--rule", default=None, help="Only the alerts of this rule.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
def recent(limit: int, rule: str | None, as_json: bool) -> None:
    """The latest alerts, newest first, with their delivery status per channel."""
    with _connect() as (client, settings):
        records = AlertStore(client, settings).recent(limit=limit, rule=rule)
    if as_json:
        click.echo(json.dumps([_alert_json(r) for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        click.echo("no alerts yet")
    for record in records:
        edit = f" · {record.revision.describe()}" if record.revision is not None else ""
        click.echo(f"{record.matched_at:%Y-%m-%d %H:%M} {record.status:7} {record.rule}: "
                   f"{record.article.title} ({record.article.source}){edit}")
        for delivery in record.deliveries:
            detail = f" - {delivery.last_error}" if delivery.last_error else ""
            click.echo(f"    {delivery.status:7} {redact_channel(delivery.channel)} "
                       f"(attempts {delivery.attempts}){detail}")


@command.command("digest")
@click.option("--rule", default=None, help="Only this rule's digests.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def digest(rule: str | None, as_json: bool) -> None:
    """Send the digests whose period has ended and that were not sent yet (what the news_digests
    DAG does every ten minutes). Each digest goes out once per channel; run it as often as you like."""
    with _connect() as (client, settings):
        run = deliver_digests(client, settings, rule=rule)
    if as_json:
        click.echo(json.dumps(run.to_json(), ensure_ascii=False, indent=2))
        return
    if not run.outcomes:
        sent_before = f" ({run.finished_before} already sent)" if run.finished_before else ""
        busy = f"; {run.busy} being sent by another run" if run.busy else ""
        click.echo(f"no digest to send{sent_before}{busy}")
    for outcome in run.outcomes:
        channels = ", ".join(outcome.sent) or "nothing sent"
        click.echo(f"{outcome.status:7} {outcome.rule}: {outcome.stories} stories, {outcome.period} "
                   f"-> {channels}")
        for error in outcome.errors:
            click.echo(f"    {error}")


@command.command("digests")
@click.option("--limit", "-n", default=20, show_default=True, help="How many digests.")
@click.option("--rule", default=None, help="Only this rule's digests.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
def digests(limit: int, rule: str | None, as_json: bool) -> None:
    """The latest digests, newest period first, with their delivery status per channel."""
    with _connect() as (client, settings):
        states = DigestStore(client, settings).recent(limit=limit, rule=rule)
    if as_json:
        click.echo(json.dumps([s.to_source(s.sent_at or s.period.end) for s in states],
                              ensure_ascii=False, indent=2))
        return
    if not states:
        click.echo("no digests yet")
    for state in states:
        click.echo(f"{state.status:7} {state.rule}: {state.stories} stories, {state.period.label} "
                   f"(digest {state.id})")
        for channel in state.channels:
            detail = f" - {channel.last_error}" if channel.last_error else ""
            click.echo(f"    {channel.status:7} {channel.channel} (attempts {channel.attempts}){detail}")


def _alert_json(record: Any) -> dict[str, Any]:
    # Records written before channels were redacted in the alerts index still carry the URL.
    source: dict[str, Any] = record.to_source()
    for delivery in source.get("deliveries") or ():
        delivery["channel"] = redact_channel(delivery["channel"])
    return source


def _rule_json(rule: Rule) -> dict[str, Any]:
    # Channels redacted: a webhook URL is often a credential (the rule store keeps it whole).
    shown: dict[str, Any] = {"name": rule.name, "query": rule.query,
                             "channels": [redact_channel(c) for c in rule.channels],
                             "created_at": format_utc(rule.created_at)}
    if rule.digest:
        shown["digest"] = rule.digest
        shown["timezone"] = rule.timezone
    if rule.on_edit:
        shown["on_edit"] = True
    return shown
