"""Alert records: one per (rule, story), with a delivery status per channel. Pure values and decisions.

The record's id is a hash of the rule name and the story id, so every copy of a story (any feed, any
cycle, any retry) maps to the same record: creating it a second time conflicts, and a delivery
repeated after a crash carries the same id for receivers to deduplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from newsflow.alerts.periods import digest_id_for, period_containing
from newsflow.alerts.rules import Rule
from newsflow.core.durations import format_seconds
from newsflow.core.models import Article, format_utc, parse_utc
from newsflow.core.redact import redact_channel
from newsflow.core.settings import AlertSettings

if TYPE_CHECKING:
    from enrich.stories import StoryMerge

# "digest": the alert goes out in its rule's digest of the period (newsflow.alerts.digests), which
# keeps the delivery status; the record itself has no deliveries.
DeliveryStatus = Literal["pending", "sent", "failed", "digest"]


def alert_id_for(rule: str, story_id: str) -> str:
    """The stable id of the alert of one rule for one story."""
    return hashlib.sha256(f"{rule}\n{story_id}".encode()).hexdigest()[:32]


def edit_alert_id_for(rule: str, story_id: str, revision_id: str) -> str:
    """The stable id of the alert of one `--on-edit` rule for one revision of a story's article."""
    return hashlib.sha256(f"{rule}\n{story_id}\n{revision_id}".encode()).hexdigest()[:32]


def story_id_of(article: Article) -> str:
    """The story an article belongs to; an article not (yet) clustered is a story of its own."""
    return article.story_id or article.id


@dataclass(frozen=True, slots=True)
class AlertArticle:
    """The article that first matched, as shown in the alert."""

    id: str
    title: str
    url: str
    source: str
    published_at: datetime

    @classmethod
    def of(cls, article: Article) -> AlertArticle:
        return cls(article.id, article.title, article.url, article.source, article.published_at)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "url": self.url, "source": self.source,
                "published_at": _iso(self.published_at)}


@dataclass(frozen=True, slots=True)
class SignalHit:
    """What a volume rule saw (newsflow.alerts.signals): carried by its alert as `signal`."""

    kind: str  # spike | first_seen
    field: str
    value: str
    count: int  # articles in the window naming the value
    stories: int  # distinct stories among them
    baseline_mean: float  # articles per window naming it over the baseline (0 for first_seen)
    window_start: datetime
    window_end: datetime

    @property
    def headline(self) -> str:
        span = format_seconds((self.window_end - self.window_start).total_seconds())
        if self.kind == "first_seen":
            return f"First seen: {self.value} ({self.field}), {self.count} articles in {span}"
        usual = f"{self.baseline_mean:.1f} usually" if self.baseline_mean else "none usually"
        return f"Spike: {self.value} ({self.field}), {self.count} articles in {span} ({usual})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.field, "value": self.value, "count": self.count,
                "stories": self.stories, "baseline_mean": round(self.baseline_mean, 3),
                "window_start": _iso(self.window_start), "window_end": _iso(self.window_end)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignalHit:
        return cls(kind=data["kind"], field=data["field"], value=data["value"], count=int(data["count"]),
                   stories=int(data["stories"]), baseline_mean=float(data["baseline_mean"]),
                   window_start=parse_utc(data["window_start"]), window_end=parse_utc(data["window_end"]))


@dataclass(frozen=True, slots=True)
class AlertRevision:
    """The edit an `--on-edit` alert is about: the revision (previous version) the article's current
    content replaced, and what changed."""

    id: str  # the revision's id in <prefix>-revisions
    number: int  # 1 for the first edit of the article
    previous_title: str
    previous_ingested_at: str  # ISO 8601 UTC: when the previous version was fetched
    replaced_at: str  # ISO 8601 UTC: when the edit was indexed
    title_changed: bool
    paragraphs_added: int
    paragraphs_removed: int
    paragraphs_edited: int = 0  # reworded

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "previous_title": self.previous_title,
                "previous_ingested_at": self.previous_ingested_at, "replaced_at": self.replaced_at,
                "title_changed": self.title_changed, "paragraphs_added": self.paragraphs_added,
                "paragraphs_removed": self.paragraphs_removed, "paragraphs_edited": self.paragraphs_edited}

    def describe(self) -> str:
        """One line for people, e.g. "edit 2: title changed, 1 paragraph added". Pure."""
        parts = ["title changed"] if self.title_changed else []
        for count, what in ((self.paragraphs_added, "added"), (self.paragraphs_removed, "removed"),
                            (self.paragraphs_edited, "reworded")):
            if count:
                parts.append(f"{count} {'paragraph' if count == 1 else 'paragraphs'} {what}")
        # Nothing counted: the summary, or a field outside the text (authors, categories, date) changed.
        return f"edit {self.number}: {', '.join(parts) or 'title and paragraphs unchanged'}"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertRevision:
        return cls(id=data["id"], number=int(data.get("number") or 0),
                   previous_title=data.get("previous_title") or "",
                   previous_ingested_at=data.get("previous_ingested_at") or "",
                   replaced_at=data.get("replaced_at") or "", title_changed=bool(data.get("title_changed")),
                   paragraphs_added=int(data.get("paragraphs_added") or 0),
                   paragraphs_removed=int(data.get("paragraphs_removed") or 0),
                   paragraphs_edited=int(data.get("paragraphs_edited") or 0))


@dataclass(frozen=True, slots=True)
class ChannelDelivery:
    """The delivery of one alert over one channel."""

    # The channel as stored and shown: the rule's channel text with any secret in a webhook URL
    # masked (newsflow.core.redact.redact_channel), e.g. "webhook:https://hooks.slack.com/services/***/…#ref".
    channel: str
    status: DeliveryStatus = "pending"
    attempts: int = 0  # delivery attempts so far (quick in-call retries count as one)
    next_attempt_at: datetime | None = None  # while pending: not before this time
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str = ""
    # The rule's channel text itself (the real URL), known to the run that matched the alert; never
    # stored in the alerts index nor shown (repr=False). Empty for a record read back from the index:
    # the delivery finds it in the rule store by `channel` (newsflow.alerts.delivery).
    address: str = field(default="", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return self.channel.split(":", 1)[0]

    def is_due(self, now: datetime) -> bool:
        return self.status == "pending" and (self.next_attempt_at is None or self.next_attempt_at <= now)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: str
    rule: str
    query: str
    story_id: str
    article: AlertArticle
    matched_at: datetime
    deliveries: tuple[ChannelDelivery, ...]
    digest: str = ""  # the id of the digest this alert goes out in (a digest rule's alert)
    digest_end: datetime | None = None  # when that digest's period ends: it is delivered after
    signal: SignalHit | None = None  # a volume rule's alert: what it saw (the article: its first story)
    revision: AlertRevision | None = None  # an `--on-edit` rule's alert of an edit

    @property
    def headline(self) -> str:
        """What a message leads with: the article's title, or what a volume rule saw."""
        if self.signal is not None:
            return self.signal.headline
        return self.article.title or self.article.url

    @property
    def status(self) -> DeliveryStatus:
        """pending while any channel may still be tried; failed if any channel gave up; else sent;
        digest for the alert of a digest rule (delivered by its digest)."""
        if self.digest and not self.deliveries:
            return "digest"
        status: DeliveryStatus = "sent"
        for delivery in self.deliveries:  # a loop, not a set: this runs for each of ~80,000 records
            if delivery.status == "pending":
                return "pending"
            if delivery.status == "failed":
                status = "failed"
        return status

    @property
    def next_attempt_at(self) -> datetime | None:
        times = [d.next_attempt_at or self.matched_at for d in self.deliveries if d.status == "pending"]
        return min(times) if times else None

    def payload(self) -> dict[str, Any]:
        """What every channel delivers (the contract's alert JSON; a volume rule's adds `signal`)."""
        payload = {
            "id": self.id,
            "rule": self.rule,
            "query": self.query,
            "story_id": self.story_id,
            "matched_at": _iso(self.matched_at),
            "article": self.article.to_json(),
            **({"revision": self.revision.to_json()} if self.revision is not None else {}),
        }
        if self.signal is not None:
            payload["signal"] = self.signal.to_json()
        return payload

    def to_source(self) -> dict[str, Any]:
        """The document in `<prefix>-alerts` (flat keyword/date fields for Kibana).

        Fields without a value are left out rather than written as null: both read the same
        everywhere (Kibana, the due query, `from_source`), and Elasticsearch's cost per document grows
        with its size: a cycle with 10,000 rules writes ~80,000 of them."""
        source = self.payload()
        status = self.status
        source["status"] = status
        source["attempts"] = max((d.attempts for d in self.deliveries), default=0)
        next_attempt_at = self.next_attempt_at
        if next_attempt_at is not None:
            source["next_attempt_at"] = _iso(next_attempt_at)
        if status == "sent":
            delivered = [d.delivered_at for d in self.deliveries if d.delivered_at is not None]
            if delivered:
                source["delivered_at"] = _iso(max(delivered))
        errors = [d.last_error for d in self.deliveries if d.last_error and d.status != "sent"]
        if errors:
            source["last_error"] = errors[-1]
        source["deliveries"] = [_delivery_source(d) for d in self.deliveries]
        if self.digest:
            source["digest"] = self.digest
            if self.digest_end is not None:
                source["digest_end"] = _iso(self.digest_end)
        return source

    @classmethod
    def from_source(cls, source: Mapping[str, Any]) -> AlertRecord:
        article = source["article"]
        return cls(
            id=source["id"],
            rule=source["rule"],
            query=source.get("query") or "",
            story_id=source["story_id"],
            article=AlertArticle(
                id=article["id"], title=article.get("title") or "", url=article.get("url") or "",
                source=article.get("source") or "", published_at=parse_utc(article["published_at"])),
            matched_at=parse_utc(source["matched_at"]),
            deliveries=tuple(
                ChannelDelivery(
                    channel=d["channel"],
                    status=d["status"],
                    attempts=int(d.get("attempts") or 0),
                    next_attempt_at=_parse_or_none(d.get("next_attempt_at")),
                    last_attempt_at=_parse_or_none(d.get("last_attempt_at")),
                    delivered_at=_parse_or_none(d.get("delivered_at")),
                    last_error=d.get("last_error") or "",
                )
                for d in source.get("deliveries") or ()
            ),
            digest=source.get("digest") or "",
            digest_end=_parse_or_none(source.get("digest_end")),
            signal=SignalHit.from_json(source["signal"]) if source.get("signal") else None,
            revision=AlertRevision.from_json(source["revision"]) if source.get("revision") else None,
        )


def new_record(rule: Rule, article: Article, now: datetime) -> AlertRecord:
    """The alert of `rule` for the story of `article`, every channel pending and due now."""
    return NewRecords(now).make(rule, article)


class NewRecords:
    """Makes the new records of one matching pass, all matched at `now`.

    The article as shown in an alert and a rule's pending deliveries are frozen values, so each is
    built once and shared by every record that needs it: with 10,000 rules a cycle makes ~80,000
    records from ~8,000 articles."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._articles: dict[str, AlertArticle] = {}
        self._deliveries: dict[tuple[str, ...], tuple[ChannelDelivery, ...]] = {}

    def make(self, rule: Rule, article: Article, revision: AlertRevision | None = None) -> AlertRecord:
        """The record of `rule` for the story of `article`; with `revision`, of that edit."""
        record = self._make(rule, article)
        if revision is None:
            return record
        return replace(record, id=edit_alert_id_for(rule.name, record.story_id, revision.id),
                       revision=revision)

    def _make(self, rule: Rule, article: Article) -> AlertRecord:
        shown = self._articles.get(article.id)
        if shown is None:
            shown = self._articles[article.id] = AlertArticle.of(article)
        deliveries = self._deliveries.get(rule.channels)
        if deliveries is None:
            deliveries = self._deliveries[rule.channels] = tuple(
                ChannelDelivery(channel=redact_channel(c), next_attempt_at=self.now, address=c)
                for c in rule.channels)
        story_id = story_id_of(article)
        if rule.digest:
            # Delivered with the rule's other alerts of the period, by the digest run.
            period = period_containing(self.now, rule.digest, rule.timezone)
            return AlertRecord(id=alert_id_for(rule.name, story_id), rule=rule.name, query=rule.query,
                               story_id=story_id, article=shown, matched_at=self.now, deliveries=(),
                               digest=digest_id_for(rule.name, period), digest_end=period.end)
        return AlertRecord(id=alert_id_for(rule.name, story_id), rule=rule.name, query=rule.query,
                           story_id=story_id, article=shown, matched_at=self.now, deliveries=deliveries)


def merged_records(
    records: Sequence[AlertRecord], merges: Mapping[str, StoryMerge]
) -> tuple[list[AlertRecord], dict[str, tuple[str, ...]]]:
    """The records once their stories are merged (enrich.stories.story_merges): each record of a
    merged story moves to the story it joined (its id with it), one record per id, the first kept.
    With them, record id -> the ids the same alert has under the other stories the merge saw: if
    any of those is recorded, the story has alerted already (under another of its ids). Pure."""
    moved: dict[str, AlertRecord] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    for record in records:
        merge = merges.get(record.story_id)
        if merge is None:
            moved.setdefault(record.id, record)
            continue
        revision = record.revision
        into = replace(record, story_id=merge.into, id=_record_id(record.rule, merge.into, revision))
        moved.setdefault(into.id, into)
        others = (_record_id(record.rule, story, revision) for story in merge.stories if story != merge.into)
        aliases[into.id] = tuple(dict.fromkeys((*aliases.get(into.id, ()), *others)))
    return list(moved.values()), aliases


def _record_id(rule: str, story_id: str, revision: AlertRevision | None) -> str:
    if revision is None:
        return alert_id_for(rule, story_id)
    return edit_alert_id_for(rule, story_id, revision.id)


def delivered(delivery: ChannelDelivery, now: datetime) -> ChannelDelivery:
    # Built directly: dataclasses.replace costs ~6 µs, and a cycle with many rules sends ~80,000.
    return ChannelDelivery(channel=delivery.channel, status="sent", attempts=delivery.attempts + 1,
                           next_attempt_at=None, last_attempt_at=now, delivered_at=now, last_error="",
                           address=delivery.address)


def with_deliveries(record: AlertRecord, deliveries: tuple[ChannelDelivery, ...]) -> AlertRecord:
    """The record with these delivery states (built directly, as `delivered`)."""
    return AlertRecord(id=record.id, rule=record.rule, query=record.query, story_id=record.story_id,
                       article=record.article, matched_at=record.matched_at, deliveries=deliveries,
                       digest=record.digest, digest_end=record.digest_end, signal=record.signal,
                       revision=record.revision)


def attempt_failed(
    delivery: ChannelDelivery, error: str, now: datetime, config: AlertSettings
) -> ChannelDelivery:
    """After a failed attempt: retry later with exponential backoff, or give up at the limit."""
    attempts = delivery.attempts + 1
    if attempts >= config.max_delivery_attempts:
        return replace(delivery, status="failed", attempts=attempts, next_attempt_at=None,
                       last_attempt_at=now, last_error=error)
    delay = min(config.retry_backoff * 2 ** (attempts - 1), config.retry_backoff_max)
    return replace(delivery, attempts=attempts, next_attempt_at=now + timedelta(seconds=delay),
                   last_attempt_at=now, last_error=error)


# Cached: a cycle with 10,000 rules formats the same few timestamps for ~80,000 records.
_iso = lru_cache(maxsize=4096)(format_utc)


def _delivery_source(delivery: ChannelDelivery) -> dict[str, Any]:
    """One channel's part of the alert document, without the fields that have no value."""
    source: dict[str, Any] = {"channel": delivery.channel, "kind": delivery.kind,
                              "status": delivery.status, "attempts": delivery.attempts}
    if delivery.next_attempt_at is not None:
        source["next_attempt_at"] = _iso(delivery.next_attempt_at)
    if delivery.last_attempt_at is not None:
        source["last_attempt_at"] = _iso(delivery.last_attempt_at)
    if delivery.delivered_at is not None:
        source["delivered_at"] = _iso(delivery.delivered_at)
    if delivery.last_error:
        source["last_error"] = delivery.last_error
    return source


def _parse_or_none(value: str | None) -> datetime | None:
    return parse_utc(value) if value else None
