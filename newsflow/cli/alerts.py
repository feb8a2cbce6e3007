"""`newsflow alerts add|list|remove|recent|digest|digests`: manage saved queries and see what they sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from elasticsearch import Elasticsearch

from newsflow.alerts.digests import DigestStore, deliver_digests
from newsflow.alerts.rules import DIGEST_PERIODS, SIGNAL_FIELDS, Rule, RuleStore, Signal
from newsflow.alerts.signals import check_signals
from newsflow.alerts.store import AlertStore
from newsflow.core.durations import format_seconds, parse_seconds
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
@click.option("--query", "-q", default=None,
              help='Lucene query string, e.g. \'persons:"Angela Merkel" AND topics:politics\' '
                   "(required, except for --spike and --first-seen, where it narrows the articles counted).")
@click.option("--channel", "-c", "channels", multiple=True, required=True,
              help="Where alerts go (repeatable): webhook:URL, apprise:URL, email:ADDRESS or log:PATH.")
@click.option("--digest", type=click.Choice(DIGEST_PERIODS), default=None,
              help="Send this rule's alerts together, one message per hour, day or week "
                   "(each story once), instead of each at once.")
@click.option("--timezone", "timezone", default="UTC", show_default=True,
              help="Time zone of the digest's days and weeks (an IANA name, e.g. Europe/Berlin).")
@click.option("--spike", "spike_field", type=click.Choice(SIGNAL_FIELDS), default=None,
              help="A volume rule: alert when a value of this field is named by unusually many articles "
                   "in the window (see --threshold).")
@click.option("--first-seen", "first_seen_field", type=click.Choice(SIGNAL_FIELDS), default=None,
              help="A volume rule: alert when a value of this field appears that no article of the "
                   "baseline named.")
@click.option("--window", default="1h", show_default=True, help="Volume rules: the span counted.")
@click.option("--threshold", default=3.0, show_default=True, type=float,
              help="--spike: times the value's usual count per window (at least 1).")
@click.option("--min-count", default=3, show_default=True, type=int,
              help="Volume rules: articles in the window naming the value, at least.")
@click.option("--cooldown", default="6h", show_default=True,
              help="Volume rules: after an alert on a value, how long before it may alert again.")
@click.option("--baseline", default=None,
              help="Volume rules: the span before the window that counts as usual "
                   "[default: 7d for --spike, 30d for --first-seen].")
@click.option("--on-edit", "on_edit", is_flag=True,
              help="Also alert when a matching article is edited (its content changed), once per edit.")
def add(name: str, query: str | None, channels: tuple[str, ...], digest: str | None, timezone: str,
        spike_field: str | None, first_seen_field: str | None, window: str, threshold: float,
        min_count: int, cooldown: str, baseline: str | None, on_edit: bool) -> None:
    """Save rule NAME (replacing a rule of the same name). An invalid query is refused.

    \b
    A rule alerts once per story that matches --query; or, with --spike or --first-seen FIELD,
    once per value of FIELD whose volume spikes, or that appears for the first time, per --window
    and --cooldown, e.g.:
      newsflow alerts add people-spiking --spike persons --window 1h --threshold 4 -c log:/tmp/s.jsonl
    """
    if spike_field and first_seen_field:
        raise click.UsageError("give --spike or --first-seen, not both")
    signal = None
    field = spike_field or first_seen_field
    if field:
        signal = Signal(kind="spike" if spike_field else "first_seen", field=field,
                        window=parse_seconds(window, "--window"), threshold=threshold, min_count=min_count,
                        cooldown=parse_seconds(cooldown, "--cooldown"),
                        baseline=parse_seconds(baseline or ("7d" if spike_field else "30d"), "--baseline"))
    elif query is None:
        raise click.UsageError("give --query (or --spike / --first-seen FIELD for a volume rule)")
    with _connect() as (client, settings):
        rule = RuleStore(client, settings).add(name, query or "*", channels, digest=digest or "",
                                               timezone=timezone, signal=signal,
                                               on_edit=on_edit)
        if rule.digest or rule.on_edit:
            AlertStore(client, settings).ensure()  # an older alerts index gains the new fields
    click.echo(f"saved rule {rule.name}: {rule.query}")
    if rule.signal is not None:
        click.echo(f"  {_describe_signal(rule.signal)}")
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


@command.command("signals")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def signals(as_json: bool) -> None:
    """Check the volume rules (--spike, --first-seen) now and deliver what they raise; `newsflow run`
    and the news_ingest DAG do this at the end of every cycle. Each (rule, value) alerts once per
    window and cool-down, however often this runs."""
    with _connect() as (client, settings):
        recorded = check_signals(client, settings)
    if as_json:
        click.echo(json.dumps({"created": recorded.created, "already_alerted": recorded.already_recorded,
                               "sent": recorded.delivery.sent, "failed": recorded.delivery.failed,
                               "deferred": recorded.delivery.deferred}, indent=2))
        return
    click.echo(f"volume rules: {recorded.created} new alerts ({recorded.delivery.sent} deliveries sent, "
               f"{recorded.delivery.failed} failed, {recorded.delivery.deferred} to retry)")


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


def _describe_signal(signal: Signal) -> str:
    window, cooldown, baseline = (format_seconds(v)
                                  for v in (signal.window, signal.cooldown, signal.baseline))
    if signal.kind == "spike":
        what = (f"spike in {signal.field}: at least {signal.min_count} articles in {window} and "
                f"{signal.threshold:g}x the usual count per {window} over the {baseline} before")
    else:
        what = (f"first seen in {signal.field}: at least {signal.min_count} articles in {window}, "
                f"none in the {baseline} before")
    return f"{what}; once per value per {window}, then quiet for {cooldown} (checked each cycle)"


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
    if rule.signal is not None:
        shown["signal"] = rule.signal.to_json()
    if rule.on_edit:
        shown["on_edit"] = True
    return shown
