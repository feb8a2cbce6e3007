"""Delivering pending alerts over their channels, with retries across cycles.

New alerts delivered at once (`deliver_then_record`): send, then create each record with its outcome,
one write per alert. Retries and alerts created earlier (`deliver_pending`, `deliver_claimed`):
find records with a due delivery, claim them (conditional write), send every due channel,
then store each channel's outcome. A channel is marked sent only after it succeeded; a failed one is
retried in a later run with exponential backoff, up to `max_delivery_attempts`, then marked failed
and reported in the result. In e-mail digest mode, one message per rule and address carries all of
that rule's alerts of the run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import httpx
from elasticsearch import Elasticsearch

from alerts.lock import RecordingLock
from alerts.records import AlertRecord, ChannelDelivery, attempt_failed, delivered, with_deliveries
from alerts.senders import send_email, send_log, send_webhook
from alerts.store import AlertStore, Versioned
from newsflow.errors import DeliveryError
from newsflow.models import utc_now
from newsflow.settings import Settings

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
    claimed = store.claim(due, until=now + timedelta(seconds=settings.alerts.delivery_lease))
    if len(claimed) < len(due):
        log.info("alerts: %d due alerts are being delivered by another run", len(due) - len(claimed))
    return _deliver(store, claimed, settings, now)


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
    down: dict[str, str],
) -> Recorded:
    """Deliver new alerts, then record each with its outcome: one write per alert.

    Under the prefix's recording lock: records that exist already (any run, real time) are left
    out, the rest are delivered, then created with op_type=create. A run that dies after sending and
    before recording leaves its articles in the alert queue: the next run sends the same alert ids
    again (at least once, as for a run that dies after claiming in `deliver_pending`). Deliveries
    that failed are recorded pending, for `deliver_pending` to retry."""
    if not records:
        return Recorded()
    store = AlertStore(client, settings)
    store.ensure_exists()
    with RecordingLock(client, settings).held():
        recorded = store.existing([record.id for record in records])
        fresh = [record for record in records if record.id not in recorded]
        outcomes: _Outcomes = {}
        try:
            _attempt_all(fresh, settings, now, outcomes, down)
        finally:
            # Even if a sender failed unexpectedly, what was sent is recorded (and not sent again);
            # what was not attempted is recorded pending and due.
            created, conflicts = store.create_claimed(
                [_with_outcomes(record, outcomes) for record in fresh], until=None)
    if conflicts:
        log.warning("alerts: %d alerts were recorded by another run while this one delivered them "
                    "(its recording lock had expired): they may have been delivered twice", conflicts)
    return Recorded(created=len(created), already_recorded=len(recorded) + conflicts,
                    delivery=_summarise(outcomes, {record.id: record for record in fresh}))


def _deliver(
    store: AlertStore, claimed: list[Versioned], settings: Settings, now: datetime,
    down: dict[str, str] | None = None,
) -> DeliveryResult:
    outcomes: _Outcomes = {}
    try:
        _attempt_all([item.record for item in claimed], settings, now, outcomes,
                     {} if down is None else down)
    finally:
        # Even if a sender failed unexpectedly, what was sent is recorded (and not sent again).
        store.save([
            Versioned(_with_outcomes(item.record, outcomes), item.seq_no, item.primary_term)
            for item in claimed
        ])
    return _summarise(outcomes, {item.record.id: item.record for item in claimed})


def _attempt_all(
    records: list[AlertRecord], settings: Settings, now: datetime, outcomes: _Outcomes,
    down: dict[str, str],
) -> None:
    """Attempt every due delivery of the records, writing each outcome into `outcomes`.

    A receiver that is down (connection refused, timeouts, 5xx after the quick retries) is not tried
    again in this run: its other alerts count the same failed attempt without waiting for it again.
    `down` collects them (receiver -> reason)."""
    config = settings.alerts

    def attempt(deliveries: list[tuple[AlertRecord, ChannelDelivery]], send: Callable[[], None],
                receiver: str) -> None:
        try:
            if receiver in down:
                raise DeliveryError(receiver, f"{down[receiver]} (not tried again in this run)")
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
    emails: dict[tuple[str, str], list[tuple[AlertRecord, ChannelDelivery]]] = defaultdict(list)
    logs: dict[str, list[tuple[AlertRecord, ChannelDelivery]]] = defaultdict(list)
    for record in records:
        for delivery in record.deliveries:
            if not delivery.is_due(now):
                continue
            kind, target = delivery.channel.split(":", 1)
            if kind == "webhook":
                webhooks.append((record, delivery, target))
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
    for path, group in logs.items():  # one append and one fsync per file
        attempt(group, partial(send_log, path, [r for r, _ in group]), receiver=f"log:{path}")
    smtp_server = f"smtp:{config.smtp_host}:{config.smtp_port}"
    for (_, address), group in emails.items():
        attempt(group, partial(send_email, address, [r for r, _ in group], config),
                receiver=smtp_server)


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
