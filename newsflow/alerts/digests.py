"""Scheduled digests: one message per digest rule and period, each story once, over every channel.

A rule saved with `--digest hourly|daily|weekly` (and a time zone) records its alerts as every rule
does, one per (rule, story), but sends none at once: each record names the digest of its period
(newsflow.alerts.periods). After a period has ended, `deliver_digests` (the `news_digests` DAG, or
`newsflow alerts digest`) sends it:

    for each digest whose period ended (alerts with digest_end <= now, within the look-back):
        claim it in `<prefix>-digests` (create, or take over a claim whose lease has passed)
        build the message: the period's stories, each with its copies' outlets and first-seen time
        (an `--on-edit` rule's alerts of edits are entries of their own, saying what the edit changed)
        send it over each of the rule's channels not yet sent, then record each channel's outcome

Once per period: the digest document records what was sent, and a digest every channel has taken
(or given up on) is never sent again. Resumable: a run that dies mid-delivery leaves its claim,
which another run takes over once the lease (`alerts.delivery_lease`) has passed, sending the
channels not yet recorded as sent, with the same digest id (the webhook's Idempotency-Key, the
e-mail's Message-ID), so a receiver can drop the copy a crash between sending and recording makes.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal

import elasticsearch
import httpx
from elasticsearch import Elasticsearch

from newsflow.alerts import chat
from newsflow.alerts.periods import Period, period_containing
from newsflow.alerts.records import AlertRecord, AlertRevision
from newsflow.alerts.rules import Rule, RuleStore
from newsflow.alerts.senders import append_json_lines, encode_payload, post_json, send_email_message
from newsflow.alerts.store import AlertStore
from newsflow.core.errors import DeliveryError
from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.redact import redact_channel
from newsflow.core.settings import AlertSettings, Settings

log = logging.getLogger(__name__)

DigestStatus = Literal["pending", "sent", "failed", "dropped"]
# Periods that ended longer ago than this are not looked at any more (a week and a day: a weekly
# digest is still sent after the scheduler was down for a day).
LOOK_BACK = timedelta(days=8)
# Stories listed in one message; a busier period says how many more there were.
MAX_STORIES = 200
_KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
_DATE: dict[str, Any] = {"type": "date"}
DIGEST_PROPERTIES: dict[str, Any] = {
    "id": _KEYWORD, "rule": _KEYWORD, "period": _KEYWORD, "timezone": _KEYWORD,
    "period_start": _DATE, "period_end": _DATE, "stories": {"type": "integer"},
    "status": _KEYWORD, "claimed_until": _DATE, "sent_at": _DATE, "updated_at": _DATE,
    "channels": {"type": "object", "dynamic": "strict", "properties": {
        "channel": _KEYWORD, "status": _KEYWORD, "attempts": {"type": "integer"},
        "delivered_at": _DATE, "last_error": {"type": "text"}}},
}


def digests_index(settings: Settings) -> str:
    return settings.index_name("digests")


@dataclass(frozen=True, slots=True)
class DigestStory:
    """One story of a digest: the alert's article, and what the story's copies add."""

    story_id: str
    alert_id: str
    title: str
    url: str
    source: str
    published_at: datetime
    first_seen: datetime  # the earliest published (or fetched) time of any copy
    copies: int
    outlets: tuple[str, ...]  # sources of the copies, first-seen first
    revision: AlertRevision | None = None  # an `--on-edit` rule's alert of an edit: an entry of its own

    @property
    def edit(self) -> str:
        """What an edit's entry adds after its outlets (" · edit 2: title changed"); "" otherwise."""
        return f" · {self.revision.describe()}" if self.revision is not None else ""

    def to_json(self) -> dict[str, Any]:
        return {"story_id": self.story_id, "alert_id": self.alert_id, "title": self.title, "url": self.url,
                "source": self.source, "published_at": format_utc(self.published_at),
                "first_seen": format_utc(self.first_seen), "copies": self.copies,
                "outlets": list(self.outlets),
                **({"revision": self.revision.to_json()} if self.revision is not None else {})}


@dataclass(frozen=True, slots=True)
class Digest:
    """The message of one rule for one period (what every channel delivers)."""

    id: str
    rule: str
    query: str
    period: Period
    stories: tuple[DigestStory, ...]
    total: int  # stories in the period (more than listed when over MAX_STORIES)

    @property
    def title(self) -> str:
        count = f"{self.total} {'story' if self.total == 1 else 'stories'}"
        return f"[newsflow] {self.rule}: {count}, {self.period.label}"

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "type": "digest", "rule": self.rule, "query": self.query,
                "period": {"kind": self.period.kind, "timezone": self.period.timezone,
                           "start": format_utc(self.period.start), "end": format_utc(self.period.end),
                           "label": self.period.label},
                "total": self.total, "stories": [story.to_json() for story in self.stories]}

    def text(self) -> str:
        lines = [f"Rule {self.rule!r} ({self.query}): {self.total} new "
                 f"{'story' if self.total == 1 else 'stories'} in {self.period.label}", ""]
        for story in self.stories:
            lines += [f"* {story.title or story.url}",
                      f"  first seen {story.first_seen:%Y-%m-%d %H:%M} UTC; "
                      f"{story.copies} {'copy' if story.copies == 1 else 'copies'}: "
                      f"{', '.join(story.outlets)}{story.edit}",
                      f"  {story.url}", ""]
        if self.total > len(self.stories):
            lines.append(f"... and {self.total - len(self.stories)} more (newsflow alerts recent "
                         f"--rule {self.rule})")
        lines.append(f"digest {self.id}")
        return "\n".join(lines)

    def chat_message(self, formats: tuple[str, ...]) -> chat.ChatMessage:
        """The digest for a chat service taking `formats`: a list of linked titles."""
        more = self.total - len(self.stories)
        if "markdown" in formats:
            items = [f"- [{chat.markdown_text(s.title or s.url)}]({chat.link_target(s.url)}) · "
                     f"{chat.markdown_text(', '.join(s.outlets) + s.edit)}" for s in self.stories]
            tail = [f"… and {more} more"] if more > 0 else []
            return chat.ChatMessage(self.title, "\n".join([*items, *tail, f"digest `{self.id}`"]),
                                    "markdown")
        if "html" in formats:
            items = [f'<a href="{html.escape(s.url, quote=True)}">{html.escape(s.title or s.url)}</a> · '
                     f"{html.escape(', '.join(s.outlets) + s.edit)}" for s in self.stories]
            tail = [f"… and {more} more"] if more > 0 else []
            lines = [*items, *tail, f"digest <code>{self.id}</code>"]
            return chat.ChatMessage(self.title, "<br>\n".join(lines), "html")
        return chat.ChatMessage(self.title, self.text(), "text")

    def email(self, address: str, config: AlertSettings) -> EmailMessage:
        message = EmailMessage()
        message["From"] = config.smtp_from
        message["To"] = address
        message["Date"] = formatdate(usegmt=True)
        message["Subject"] = self.title
        message["Message-ID"] = f"<digest-{self.id}@newsflow>"  # the same on a repeated delivery
        message["X-Newsflow-Rule"] = self.rule
        message["X-Newsflow-Digest-Id"] = self.id
        message.set_content(self.text())
        message.add_attachment(json.dumps(self.payload(), ensure_ascii=False, indent=2),
                               subtype="json", filename="digest.json")
        return message


def period_of(record: AlertRecord, rule: Rule | None) -> Period:
    """The period of a digest alert: the rule's, when the rule still counts periods that way; else
    just the span up to the end the alert recorded (a rule removed or changed since). Pure."""
    if rule is not None and rule.digest:
        period = period_containing(record.matched_at, rule.digest, rule.timezone)
        if record.digest_end is None or period.end == record.digest_end:
            return period
    end = record.digest_end or record.matched_at
    return Period("ended", "UTC", min(record.matched_at, end), end)


def build_digest(digest_id: str, rule: Rule, period: Period, records: Sequence[AlertRecord], total: int,
                 copies: Mapping[str, tuple[int, datetime, tuple[str, ...]]]) -> Digest:
    """The digest of `rule`'s alert records of one period. `copies`: story id -> (number of copies,
    first seen, outlets) from the articles index. Pure."""
    if not records:
        raise ValueError("a digest needs at least one alert")
    stories = []
    for record in records:
        count, first_seen, outlets = copies.get(record.story_id, (1, record.article.published_at,
                                                                  (record.article.source,)))
        stories.append(DigestStory(
            story_id=record.story_id, alert_id=record.id, title=record.article.title, url=record.article.url,
            source=record.article.source, published_at=record.article.published_at,
            first_seen=min(first_seen, record.article.published_at), copies=count,
            outlets=outlets or (record.article.source,), revision=record.revision))
    stories.sort(key=lambda story: (story.first_seen, story.story_id,
                                    story.revision.number if story.revision is not None else 0))
    return Digest(id=digest_id, rule=rule.name, query=rule.query, period=period, stories=tuple(stories),
                  total=max(total, len(stories)))


@dataclass(frozen=True, slots=True)
class ChannelState:
    channel: str  # as shown (secrets redacted)
    status: DigestStatus = "pending"
    attempts: int = 0
    delivered_at: datetime | None = None
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class DigestState:
    """The `<prefix>-digests` document of one digest: what was sent over which channel."""

    id: str
    rule: str
    period: Period
    status: DigestStatus = "pending"
    stories: int = 0
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    channels: tuple[ChannelState, ...] = ()
    seq_no: int | None = field(default=None, compare=False)
    primary_term: int | None = field(default=None, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in ("sent", "failed", "dropped")

    def channel(self, shown: str) -> ChannelState:
        return next((c for c in self.channels if c.channel == shown), ChannelState(shown))

    def to_source(self, now: datetime) -> dict[str, Any]:
        source: dict[str, Any] = {
            "id": self.id, "rule": self.rule, "period": self.period.kind, "timezone": self.period.timezone,
            "period_start": format_utc(self.period.start), "period_end": format_utc(self.period.end),
            "stories": self.stories, "status": self.status, "updated_at": format_utc(now),
            "channels": [_channel_source(c) for c in self.channels]}
        if self.claimed_until is not None:
            source["claimed_until"] = format_utc(self.claimed_until)
        if self.sent_at is not None:
            source["sent_at"] = format_utc(self.sent_at)
        return source

    @classmethod
    def from_hit(cls, hit: Mapping[str, Any]) -> DigestState:
        source = hit["_source"]
        return cls(
            id=source["id"], rule=source["rule"],
            period=Period(source["period"], source["timezone"], parse_utc(source["period_start"]),
                          parse_utc(source["period_end"])),
            status=source["status"], stories=int(source.get("stories") or 0),
            claimed_until=_parse(source.get("claimed_until")), sent_at=_parse(source.get("sent_at")),
            channels=tuple(ChannelState(c["channel"], c["status"], int(c.get("attempts") or 0),
                                        _parse(c.get("delivered_at")), c.get("last_error") or "")
                           for c in source.get("channels") or ()),
            seq_no=hit.get("_seq_no"), primary_term=hit.get("_primary_term"))


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    id: str
    rule: str
    period: str  # the period's label
    stories: int
    status: DigestStatus
    sent: tuple[str, ...] = ()  # channels (redacted) delivered in this run
    failed: tuple[str, ...] = ()  # channels that failed in this run (retried later unless given up)
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "period": self.period, "stories": self.stories,
                "status": self.status, "sent": list(self.sent), "failed": list(self.failed),
                "errors": list(self.errors)}


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What one `deliver_digests` call did."""

    outcomes: tuple[DigestOutcome, ...] = ()
    busy: int = 0  # digests another run holds (its claim's lease has not passed)
    finished_before: int = 0  # ended digests found already delivered

    def to_json(self) -> dict[str, Any]:
        return {"digests": [o.to_json() for o in self.outcomes], "busy": self.busy,
                "already_delivered": self.finished_before,
                "sent": sum(len(o.sent) for o in self.outcomes),
                "failed": sum(len(o.failed) for o in self.outcomes)}


class DigestStore:
    """`<prefix>-digests`: one document per (rule, period) digest, written conditionally."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = digests_index(settings)
        self._url = settings.es_url_redacted

    def ensure(self) -> None:
        with translate_errors(self._url):
            if self.client.indices.exists(index=self.index):
                return
            create_index(self.client, index=self.index,
                         settings={"number_of_shards": 1,
                                   "number_of_replicas": number_of_replicas(self.settings, self.client)},
                         mappings={"dynamic": "strict", "properties": DIGEST_PROPERTIES})
            self.client.cluster.health(index=self.index, wait_for_status="yellow", timeout="30s")

    def get_many(self, ids: Sequence[str]) -> dict[str, DigestState]:
        if not ids:
            return {}
        with translate_errors(self._url):
            response = self.client.mget(index=self.index, ids=list(ids))
        found: dict[str, DigestState] = {}
        for doc in response.get("docs") or ():
            if doc.get("found"):
                # mget gives _seq_no and _primary_term with every found document.
                found[doc["_id"]] = DigestState.from_hit(doc)
        return found

    def claim(self, state: DigestState, until: datetime | None, now: datetime) -> DigestState | None:
        """Write the digest's state held by this run until `until` (None: free for the next run to
        take), conditionally on the version this run read or wrote last; None when another run
        created or changed it meanwhile."""
        document = replace(state, claimed_until=until)
        try:
            with translate_errors(self._url):
                if state.seq_no is None:
                    response = self.client.create(index=self.index, id=state.id,
                                                  document=document.to_source(now), refresh=True)
                else:
                    response = self.client.index(index=self.index, id=state.id,
                                                 document=document.to_source(now),
                                                 if_seq_no=state.seq_no,
                                                 if_primary_term=state.primary_term, refresh=True)
        except elasticsearch.ConflictError:
            return None
        return replace(document, seq_no=response["_seq_no"], primary_term=response["_primary_term"])

    def recent(self, limit: int = 20, rule: str | None = None) -> list[DigestState]:
        query: dict[str, Any] = {"term": {"rule": rule}} if rule else {"match_all": {}}
        with translate_errors(self._url):
            response = self.client.options(ignore_status=404).search(
                index=self.index, query=query, size=limit, seq_no_primary_term=True,
                sort=[{"period_end": "desc"}, {"rule": "asc"}])
        return [DigestState.from_hit(hit) for hit in (response.get("hits") or {}).get("hits") or ()]


def deliver_digests(client: Elasticsearch, settings: Settings, *, now: datetime | None = None,
                    rule: str | None = None) -> DigestRun:
    """Send every digest whose period has ended and that is not delivered yet (see the module
    docstring); `rule`: only that rule's."""
    now = now or utc_now()
    alerts = AlertStore(client, settings)
    ended = [(r, d) for r, d in alerts.ended_digests(now, now - LOOK_BACK) if rule is None or r == rule]
    if not ended:
        return DigestRun()
    store = DigestStore(client, settings)
    store.ensure()
    states = store.get_many([digest for _, digest in ended])
    rules = RuleStore(client, settings)
    lease = timedelta(seconds=settings.alerts.delivery_lease)
    outcomes: list[DigestOutcome] = []
    busy = finished = 0
    with _Senders(settings.alerts) as senders:
        for rule_name, digest_id in ended:
            state = states.get(digest_id)
            if state is not None and state.finished:
                finished += 1
                continue
            if state is not None and state.claimed_until is not None and state.claimed_until > now:
                busy += 1
                continue
            outcome = _deliver_one(client, settings, store, rules, senders, rule_name, digest_id, state,
                                   now=now, lease=lease)
            if outcome is None:
                busy += 1
            else:
                outcomes.append(outcome)
    return DigestRun(tuple(outcomes), busy=busy, finished_before=finished)


def _deliver_one(client: Elasticsearch, settings: Settings, store: DigestStore, rules: RuleStore,
                 senders: _Senders, rule_name: str, digest_id: str, state: DigestState | None, *,
                 now: datetime, lease: timedelta) -> DigestOutcome | None:
    records, total = AlertStore(client, settings).digest_records(digest_id, MAX_STORIES)
    if not records:
        return None
    rule = rules.get(rule_name)
    period = state.period if state is not None else period_of(records[0], rule)
    state = state or DigestState(id=digest_id, rule=rule_name, period=period)
    held = store.claim(replace(state, stories=total), now + lease, now)
    if held is None:
        return None
    if rule is None or not rule.digest:
        # The rule was removed or no longer wants digests: its earlier alerts are not sent now.
        reason = "rule removed" if rule is None else "rule no longer has a digest"
        store.claim(replace(held, status="dropped"), None, now)
        log.warning("digest %s of rule %r (%s) dropped: %s", digest_id, rule_name, period.label, reason)
        return DigestOutcome(digest_id, rule_name, period.label, total, "dropped", errors=(reason,))
    digest = build_digest(digest_id, rule, period, records, total, story_copies(client, settings, records))
    sent: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    channels = list(held.channels)
    for address in rule.channels:
        shown = redact_channel(address)
        current = held.channel(shown)
        if current.status != "pending":
            continue  # sent (or given up) by an earlier run
        try:
            senders.send(address, digest)
        except DeliveryError as exc:
            attempts = current.attempts + 1
            gave_up = attempts >= settings.alerts.max_delivery_attempts or not exc.retryable
            updated = replace(current, attempts=attempts, last_error=exc.reason,
                              status="failed" if gave_up else "pending")
            failed.append(shown)
            errors.append(f"{shown}: {exc.reason}")
            log.warning("digest %s of rule %r to %s failed (attempt %d%s): %s", digest_id, rule.name, shown,
                        attempts, ", given up" if gave_up else "", exc.reason)
        else:
            updated = replace(current, status="sent", attempts=current.attempts + 1, delivered_at=now,
                              last_error="")
            sent.append(shown)
        channels = [c for c in channels if c.channel != shown] + [updated]
        # Recorded after each channel: a crash later on does not send this one again.
        saved = store.claim(replace(held, channels=tuple(channels)), now + lease, now)
        if saved is None:
            log.warning("digest %s was taken over by another run", digest_id)
            return DigestOutcome(digest_id, rule.name, period.label, total, "pending", tuple(sent),
                                 tuple(failed), tuple(errors))
        held = saved
    wanted = {redact_channel(a) for a in rule.channels}
    mine = [c for c in held.channels if c.channel in wanted]
    status: DigestStatus = ("pending" if any(c.status == "pending" for c in mine) else
                            "failed" if any(c.status == "failed" for c in mine) else "sent")
    # Left pending (a channel to retry): free for the next run at once; its attempts bound the retries.
    store.claim(replace(held, status=status, sent_at=now if status == "sent" else held.sent_at), None, now)
    if sent:
        log.info("digest %s of rule %r (%s, %d stories) sent to %s", digest_id, rule.name, period.label,
                 total, ", ".join(sent))
    return DigestOutcome(digest_id, rule.name, period.label, total, status, tuple(sent), tuple(failed),
                         tuple(errors))


def story_copies(client: Elasticsearch, settings: Settings, records: Sequence[AlertRecord]
                 ) -> dict[str, tuple[int, datetime, tuple[str, ...]]]:
    """story id -> (copies, first seen, outlets first-seen first) from the articles index."""
    ids = sorted({record.story_id for record in records})
    if not ids:
        return {}
    with translate_errors(settings.es_url_redacted):
        response = client.options(ignore_status=404).search(
            index=settings.index_name("articles"), size=0, query={"terms": {"story_id": ids}},
            aggs={"stories": {"terms": {"field": "story_id", "size": len(ids)}, "aggs": {
                "first_seen": {"min": {"field": "published_at"}},
                "outlets": {"terms": {"field": "source", "size": 20,
                                      "order": {"seen": "asc"}},
                            "aggs": {"seen": {"min": {"field": "published_at"}}}}}}})
    found: dict[str, tuple[int, datetime, tuple[str, ...]]] = {}
    for bucket in ((response.get("aggregations") or {}).get("stories") or {}).get("buckets") or ():
        first = bucket["first_seen"].get("value_as_string")
        if not first:
            continue
        outlets = tuple(b["key"] for b in bucket["outlets"]["buckets"])
        found[bucket["key"]] = (int(bucket["doc_count"]), parse_utc(first), outlets)
    return found


class _Senders:
    """One digest over one channel; the HTTP client and apprise are set up once per run."""

    def __init__(self, config: AlertSettings) -> None:
        self.config = config
        self._http: httpx.Client | None = None
        self._chat: chat.ChatSender | None = None

    def __enter__(self) -> _Senders:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._http is not None:
            self._http.close()

    def send(self, address: str, digest: Digest) -> None:
        kind, _, target = address.partition(":")
        if kind == "webhook":
            if self._http is None:
                self._http = httpx.Client(timeout=self.config.webhook_timeout, follow_redirects=False)
            post_json(self._http, target, encode_payload(digest.payload()), digest.id, self.config)
        elif kind == "log":
            append_json_lines(target, [digest.payload()])
        elif kind == "email":
            send_email_message(target, digest.email(target, self.config), self.config)
        elif kind == "apprise":
            if self._chat is None:
                self._chat = chat.ChatSender(self.config)
            first = digest.stories[0].url if digest.stories else ""
            self._chat.send_message(target, digest.chat_message, click=first)
        else:
            raise DeliveryError(redact_channel(address), "unknown channel kind", retryable=False)


def _channel_source(state: ChannelState) -> dict[str, Any]:
    source: dict[str, Any] = {"channel": state.channel, "status": state.status, "attempts": state.attempts}
    if state.delivered_at is not None:
        source["delivered_at"] = format_utc(state.delivered_at)
    if state.last_error:
        source["last_error"] = state.last_error
    return source


def _parse(value: str | None) -> datetime | None:
    return parse_utc(value) if value else None

