"""Delivering pending alerts over their channels, with retries across cycles.

New alerts delivered at once (`deliver_then_record`): send, then create each record with its outcome,
one write per alert. Retries and alerts created earlier (`deliver_pending`, `deliver_claimed`):
find records with a due delivery, claim them (conditional write), send every due channel,
then store each channel's outcome. A channel is marked sent only after it succeeded; a failed one is
retried in a later run with exponential backoff, up to `max_delivery_attempts`, then marked failed
and reported in the result. In e-mail digest mode, one message per rule and address carries all of
that rule's alerts of the run.

What makes a run the only sender of an alert (the recording lock, or its delivery claims) is renewed
while it delivers and checked before each send, for as long as that send may take (`send_budget`):
a run that lost it, or could not renew it in time, stops sending and leaves the rest to a later run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import httpx
from elasticsearch import Elasticsearch

from newsflow.alerts import chat
from newsflow.alerts.claims import HeldClaims
from newsflow.alerts.lock import RecordingLock
from newsflow.alerts.records import (
    AlertRecord,
    ChannelDelivery,
    attempt_failed,
    delivered,
    merged_records,
    with_deliveries,
)
from newsflow.alerts.rules import ChannelAddresses, RuleStore
from newsflow.alerts.senders import send_email, send_log, send_webhook
from newsflow.alerts.store import AlertStore, Versioned
from newsflow.core.errors import AlertLockLost, DeliveryError
from newsflow.core.models import utc_now
from newsflow.core.settings import AlertSettings, Settings

if TYPE_CHECKING:
    from enrich.stories import StoryMerge

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """A delivery given up after the last attempt: reported to the user."""

    alert_id: str
    rule: str
    story_id: str
    channel: str
    attempts: int
    error: str


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    sent: int = 0  # channel deliveries that succeeded in this run
    failed: int = 0  # channel deliveries given up in this run (see failures)
    deferred: int = 0  # channel deliveries that failed and will be retried in a later run
    failures: tuple[DeliveryFailure, ...] = ()


# (alert id, channel) -> the outcome of this run's attempt
_Outcomes = dict[tuple[str, str], ChannelDelivery]
# Called before each send with its records and how long it may take; raises AlertLockLost to stop.
SendGuard = Callable[[Sequence[AlertRecord], float], None]
# Called under the recording lock before recording: merges the stories founded at the same moment
# as a copy elsewhere (newsflow.alerts.story_merge.StoryRecheck); founder story id -> its merge.
MergeStories = Callable[[], Mapping[str, "StoryMerge"]]
# Seconds a log-file append (one write and one fsync) is allowed in the budget.
_LOG_BUDGET = 10.0


def send_budget(kind: str, config: AlertSettings) -> float:
    """The longest one send over a channel of `kind` may take with these settings. Pure.

    A webhook: every quick attempt timing out, plus the backoff between them. E-mail: connect and
    the exchange, each bounded by the SMTP timeout."""
    if kind == "webhook":
        attempts = 1 + max(0, config.webhook_retries)
        backoff = sum(config.webhook_retry_backoff * 2 ** n for n in range(attempts - 1))
        return float(attempts * config.webhook_timeout + backoff)
    if kind == "apprise":
        return chat.send_budget(config)
    if kind == "email":
        return 2 * config.smtp_timeout
    if kind == "log":
        return _LOG_BUDGET
    return 0.0


def deliver_pending(
    client: Elasticsearch, settings: Settings, *, now: datetime | None = None
) -> DeliveryResult:
    """Send every due delivery of the prefix's alerts and record the outcomes."""
    now = now or utc_now()
    store = AlertStore(client, settings)
    if not store.exists():
        return DeliveryResult()
    due = list(store.due(now))
    if not due:
        return DeliveryResult()
    lease = settings.alerts.delivery_lease
    asked = utc_now()
    claimed = store.claim(due, until=now + timedelta(seconds=lease))
    if len(claimed) < len(due):
        log.info("alerts: %d due alerts are being delivered by another run", len(due) - len(claimed))
    valid_for = lease - (utc_now() - asked).total_seconds()
    return _deliver(store, claimed, settings, now, valid_for=valid_for)


def deliver_claimed(
    client: Elasticsearch, settings: Settings, claimed: Sequence[Versioned], *, now: datetime | None = None,
    down: dict[str, str] | None = None,
) -> DeliveryResult:
    """Deliver alerts this run created already claimed (`match_articles(..., claim_until=...)`).

    `down`: receivers found down earlier in this run (receiver -> reason), shared by the calls of
    one run that delivers in several parts, so a dead receiver costs its timeout once per run."""
    if not claimed:
        return DeliveryResult()
    return _deliver(AlertStore(client, settings), list(claimed), settings, now or utc_now(), down)


@dataclass(frozen=True, slots=True)
class Recorded:
    created: int = 0  # new alert records, written with their delivery status
    already_recorded: int = 0  # (rule, story) pairs recorded before: not delivered again
    delivery: DeliveryResult = DeliveryResult()


def deliver_then_record(
    client: Elasticsearch, settings: Settings, records: Sequence[AlertRecord], *, now: datetime,
    down: dict[str, str], merge_stories: MergeStories | None = None,
) -> Recorded:
    """Deliver new alerts, then record each with its outcome: one write per alert.

    Under the prefix's recording lock: records that exist already (any run, real time) are left
    out, the rest are delivered, then created with op_type=create. A run that dies after sending and
    before recording leaves its articles in the alert queue: the next run sends the same alert ids
    again (at least once, as for a run that dies after claiming in `deliver_pending`). Deliveries
    that failed are recorded pending, for `deliver_pending` to retry.

    `merge_stories`: called under the lock first (see newsflow.alerts.engine.match_articles): the
    records move with their merged stories, and one whose story has a record under another of its
    ids is left out as recorded already."""
    if not records and merge_stories is None:
        return Recorded()
    store = AlertStore(client, settings)
    store.ensure_exists()
    lost: AlertLockLost | None = None
    matched = len(records)
    with RecordingLock(client, settings).held() as lock:
        aliases: dict[str, tuple[str, ...]] = {}
        if merge_stories is not None:
            records, aliases = merged_records(records, merge_stories())
        recorded = store.existing([record.id for record in records]
                                  + [i for ids in aliases.values() for i in ids])
        fresh = [record for record in records
                 if record.id not in recorded and recorded.isdisjoint(aliases.get(record.id, ()))]
        outcomes: _Outcomes = {}
        try:
            _attempt_all(fresh, settings, now, outcomes, down,
                         guard=lambda _records, seconds: lock.ensure_for(seconds))
        except AlertLockLost as exc:
            lost = exc
        finally:
            # Even if a sender failed unexpectedly, what was sent is recorded (and not sent again);
            # what was not attempted is recorded pending and due. Unless the lock was lost: then
            # another run may be sending those now, so only what this run sent is recorded and the
            # rest is left to the alert queue (AlertLockLost is an AlertsBusy: the caller keeps it).
            attempted = fresh if lost is None else [
                record for record in fresh
                if any((record.id, d.channel) in outcomes for d in record.deliveries)]
            created, conflicts = store.create_claimed(
                [_with_outcomes(record, outcomes) for record in attempted], until=None)
    if conflicts:
        log.warning("alerts: %d alerts were recorded by another run while this one delivered them "
                    "(its recording lock had expired): they may have been delivered twice", conflicts)
    if lost is not None:
        log.warning("%s (%d of %d new alerts sent and recorded)", lost, len(created), len(fresh))
        raise lost
    return Recorded(created=len(created), already_recorded=matched - len(fresh) + conflicts,
                    delivery=_summarise(outcomes, {record.id: record for record in fresh}))


def _deliver(
    store: AlertStore, claimed: list[Versioned], settings: Settings, now: datetime,
    down: dict[str, str] | None = None, valid_for: float = 0.0,
) -> DeliveryResult:
    outcomes: _Outcomes = {}
    claims = HeldClaims(store, claimed, settings.alerts.delivery_lease, now, valid_for=valid_for)
    try:
        with claims.beating():
            try:
                _attempt_all([item.record for item in claimed], settings, now, outcomes,
                             {} if down is None else down, guard=claims.ensure_for,
                             resolve=ChannelAddresses(RuleStore(store.client, settings)))
            except AlertLockLost as exc:
                log.warning("%s", exc)  # what was not sent stays pending, due for a later run
    finally:
        # Even if a sender failed unexpectedly, what was sent is recorded (and not sent again).
        # Claims lost to another run are its records now: left alone.
        store.save([
            Versioned(_with_outcomes(item.record, outcomes), item.seq_no, item.primary_term)
            for item in claims.current()
        ])
    return _summarise(outcomes, {item.record.id: item.record for item in claimed})


def _attempt_all(
    records: list[AlertRecord], settings: Settings, now: datetime, outcomes: _Outcomes,
    down: dict[str, str], guard: SendGuard | None = None,
    resolve: Callable[[AlertRecord, ChannelDelivery], str | None] | None = None,
) -> None:
    """Attempt every due delivery of the records, writing each outcome into `outcomes`.

    `guard` is asked before each send (with the send's budget) and may stop them all (AlertLockLost).

    A receiver that is down (connection refused, timeouts, 5xx after the quick retries) is not tried
    again in this run: its other alerts count the same failed attempt without waiting for it again.
    `down` collects them (receiver -> reason)."""
    config = settings.alerts

    def target_of(record: AlertRecord, delivery: ChannelDelivery) -> str | None:
        return delivery.address or (resolve(record, delivery) if resolve else delivery.channel)

    def attempt(deliveries: list[tuple[AlertRecord, ChannelDelivery]], send: Callable[[], None],
                receiver: str) -> None:
        try:
            if receiver in down:
                raise DeliveryError(receiver, f"{down[receiver]} (not tried again in this run)")
            if guard is not None:
                guard([record for record, _ in deliveries],
                      send_budget(deliveries[0][1].kind, config))
            send()
        except DeliveryError as exc:
            if exc.retryable:
                down.setdefault(receiver, exc.reason)
            for record, delivery in deliveries:
                outcome = attempt_failed(delivery, exc.reason, now, config)
                outcomes[(record.id, delivery.channel)] = outcome
                if outcome.status == "failed":
                    log.warning("alert %s (rule %s) could not be delivered to %s after %d attempts: %s",
                                record.id, record.rule, delivery.channel, outcome.attempts, exc.reason)
        else:
            for record, delivery in deliveries:
                outcomes[(record.id, delivery.channel)] = delivered(delivery, now)

    webhooks: list[tuple[AlertRecord, ChannelDelivery, str]] = []
    chats: list[tuple[AlertRecord, ChannelDelivery, str]] = []
    emails: dict[tuple[str, str], list[tuple[AlertRecord, ChannelDelivery]]] = defaultdict(list)
    logs: dict[str, list[tuple[AlertRecord, ChannelDelivery]]] = defaultdict(list)
    for record in records:
        for delivery in record.deliveries:
            if not delivery.is_due(now):
                continue
            address = target_of(record, delivery)
            if address is None:
                attempt([(record, delivery)], _lost_channel(record, delivery), receiver=delivery.channel)
                continue
            kind, target = address.split(":", 1)
            if kind == "webhook":
                webhooks.append((record, delivery, target))
            elif kind == "apprise":
                chats.append((record, delivery, target))
            elif kind == "log":
                logs[target].append((record, delivery))
            elif kind == "email":
                # Digest: one group per (rule, address); otherwise one group per alert.
                key = (record.rule, target) if config.email_digest else (record.id, target)
                emails[key].append((record, delivery))
            else:
                attempt([(record, delivery)], _unknown_channel(delivery.channel),
                        receiver=delivery.channel)
    if webhooks:  # an HTTP client loads the CA bundle (~50 ms of CPU): only when there is a webhook
        with httpx.Client(timeout=config.webhook_timeout, follow_redirects=False) as http:
            for record, delivery, target in webhooks:
                attempt([(record, delivery)], partial(send_webhook, http, target, record, config),
                        receiver=delivery.channel)
    if chats:  # apprise loads its ~190 service plugins on first use (~0.5 s): only when needed
        sender = chat.ChatSender(config)
        for record, delivery, target in chats:
            attempt([(record, delivery)], partial(sender.send, target, record), receiver=delivery.channel)
    for path, group in logs.items():  # one append and one fsync per file
        attempt(group, partial(send_log, path, [r for r, _ in group]), receiver=f"log:{path}")
    smtp_server = f"smtp:{config.smtp_host}:{config.smtp_port}"
    for (_, address), group in emails.items():
        attempt(group, partial(send_email, address, [r for r, _ in group], config),
                receiver=smtp_server)


def _lost_channel(record: AlertRecord, delivery: ChannelDelivery) -> Callable[[], None]:
    def fail() -> None:
        raise DeliveryError(
            delivery.channel, f"rule {record.rule!r} no longer has this channel (removed or changed): "
            "a webhook or apprise URL with secrets is kept only with its rule, so it cannot be retried; "
            "add the rule again with it to deliver later alerts", retryable=False)
    return fail


def _unknown_channel(channel: str) -> Callable[[], None]:
    def fail() -> None:
        raise DeliveryError(channel, "unknown channel kind", retryable=False)
    return fail


def _with_outcomes(record: AlertRecord, outcomes: _Outcomes) -> AlertRecord:
    deliveries = tuple(outcomes.get((record.id, d.channel), d) for d in record.deliveries)
    return with_deliveries(record, deliveries)


def _summarise(outcomes: _Outcomes, records: dict[str, AlertRecord]) -> DeliveryResult:
    sent = failed = deferred = 0
    failures: list[DeliveryFailure] = []
    for (alert_id, channel), outcome in outcomes.items():
        if outcome.status == "sent":
            sent += 1
        elif outcome.status == "failed":
            failed += 1
            record = records[alert_id]
            failures.append(DeliveryFailure(alert_id, record.rule, record.story_id, channel,
                                            outcome.attempts, outcome.last_error))
        else:
            deferred += 1
    return DeliveryResult(sent=sent, failed=failed, deferred=deferred, failures=tuple(failures))
