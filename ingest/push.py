"""The I/O of WebSub subscriptions: the subscription store (`<prefix>-push` in Elasticsearch), the
requests to the hubs (`Subscriber`), the master secret and the on-disk spool of received pushes.
The decisions are pure functions in ingest/websub.py; docs/push.md tells the whole story.

`<prefix>-push` holds one document per feed key (the feed state's id in `<prefix>-feeds`), so a
feed's subscription sits beside its polling state without touching that index's strict mapping.
No secret is stored in it: each subscription's hub.secret is derived from the master secret and
the nonce in its callback URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from elasticsearch import Elasticsearch

from ingest.addresses import AddressPolicy
from ingest.types import FeedSpec, HubLinks
from ingest.websub import Action, PushedBody, Subscription, SubscriptionState, plan, subscribe_form
from newsflow.core.errors import PushSpoolCorrupt
from newsflow.core.es import number_of_replicas, translate_errors
from newsflow.core.models import parse_utc, utc_now
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)

_KEYWORD = {"type": "keyword", "ignore_above": 2048}
PUSH_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "key": {"type": "keyword"},
        "feed_url": _KEYWORD,
        "hub": _KEYWORD,
        "topic": _KEYWORD,
        "nonce": {"type": "keyword", "index": False},
        "state": {"type": "keyword"},
        "requested_at": {"type": "date"},
        "verified_at": {"type": "date"},
        "expires_at": {"type": "date"},
        "lease_seconds": {"type": "long"},
        "last_error": {"type": "text"},
    },
}
_DATES = ("requested_at", "verified_at", "expires_at")


def push_index(settings: Settings) -> str:
    return settings.index_name("push")


def master_secret(settings: Settings) -> bytes:
    """The secret every subscription's hub.secret is derived from: NEWSFLOW_PUSH__SECRET, or one
    generated once into $NEWSFLOW_HOME/push/secret (readable by its owner only)."""
    if settings.push.secret is not None:
        return settings.push.secret.get_secret_value().encode()
    path = settings.push_dir / "secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32))
            out.flush()
            os.fsync(out.fileno())
    return path.read_text().strip().encode()


def to_document(sub: Subscription) -> dict[str, Any]:
    doc = asdict(sub)
    for name in _DATES:
        doc[name] = doc[name].isoformat() if doc[name] is not None else None
    return doc


def from_document(doc: Mapping[str, Any]) -> Subscription:
    def date(name: str) -> datetime | None:
        value = doc.get(name)
        return parse_utc(value) if value else None

    lease = doc.get("lease_seconds")
    return Subscription(
        key=str(doc.get("key", "")), feed_url=str(doc.get("feed_url", "")), hub=str(doc.get("hub", "")),
        topic=str(doc.get("topic", "")), nonce=str(doc.get("nonce", "")),
        state=doc.get("state") or "requested", requested_at=date("requested_at"),
        verified_at=date("verified_at"), expires_at=date("expires_at"),
        lease_seconds=int(lease) if isinstance(lease, int | float) else None,
        last_error=str(doc.get("last_error") or ""))


class PushStore:
    """Subscriptions in `<prefix>-push`. Writes wait for a refresh: the receiver reads a subscription
    right after the subscriber wrote it (a hub may verify before it answers the request)."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = push_index(settings)

    def ensure(self) -> None:
        with translate_errors(self.settings.es_url_redacted):
            if not self.client.indices.exists(index=self.index):
                self.client.options(ignore_status=400).indices.create(
                    index=self.index, mappings=PUSH_MAPPING,
                    settings={"number_of_shards": 1,
                              "number_of_replicas": number_of_replicas(self.settings, self.client)})

    def load_all(self) -> dict[str, Subscription]:
        with translate_errors(self.settings.es_url_redacted):
            found = self.client.options(ignore_status=404).search(index=self.index, size=10_000,
                                                                  query={"match_all": {}})
        hits = found.body.get("hits", {}).get("hits", []) if found.meta.status == 200 else []
        return {hit["_id"]: from_document(hit["_source"]) for hit in hits}

    def get(self, key: str) -> Subscription | None:
        with translate_errors(self.settings.es_url_redacted):
            found = self.client.options(ignore_status=404).get(index=self.index, id=key)
        return from_document(found["_source"]) if found.meta.status == 200 and found.get("found") else None

    def save(self, sub: Subscription) -> None:
        with translate_errors(self.settings.es_url_redacted):
            self.client.index(index=self.index, id=sub.key, document=to_document(sub), refresh="wait_for")

    def update(self, key: str, **fields: Any) -> None:
        """Change some fields only (the subscriber and the receiver write the same document)."""
        doc = {name: (value.isoformat() if isinstance(value, datetime) else value)
               for name, value in fields.items()}
        with translate_errors(self.settings.es_url_redacted):
            self.client.update(index=self.index, id=key, doc=doc, refresh="wait_for")


@dataclass(frozen=True, slots=True)
class SubscriptionReport:
    """What one reconciliation asked the hubs, and what failed (one line per failure)."""

    subscribed: int = 0
    renewed: int = 0
    unsubscribed: int = 0
    problems: tuple[str, ...] = field(default=())


class Subscriber:
    """Sends the (un)subscribe requests `ingest.websub.plan` decides on. The store is written before
    each request, so the receiver recognises the hub's verification of intent even when the hub
    verifies before answering; the hub's verification (to `newsflow push serve`) makes it active."""

    def __init__(self, store: PushStore, settings: Settings, *, http: httpx.Client | None = None) -> None:
        self.store = store
        self.settings = settings
        self._http = http or httpx.Client(timeout=settings.push.request_timeout, follow_redirects=False,
                                          headers={"User-Agent": settings.fetch.user_agent})
        self._policy = AddressPolicy.from_settings(settings.fetch)

    def close(self) -> None:
        self._http.close()

    def reconcile(self, specs: Sequence[FeedSpec], discovered: Mapping[str, HubLinks],
                  now: datetime | None = None) -> SubscriptionReport:
        """Subscribe, renew and unsubscribe as `plan` says for the whole feeds file `specs`."""
        now = now or utc_now()
        self.store.ensure()
        actions = plan({spec.key: spec for spec in specs}, discovered, self.store.load_all(), now,
                       self.settings.push)
        counts = {"subscribe": 0, "renew": 0, "unsubscribe": 0}
        problems = []
        for action in actions:
            problem = self.send(action, now)
            if problem:
                problems.append(problem)
            else:
                counts[action.kind] += 1
        return SubscriptionReport(subscribed=counts["subscribe"], renewed=counts["renew"],
                                  unsubscribed=counts["unsubscribe"], problems=tuple(problems))

    def send(self, action: Action, now: datetime) -> str:
        """Send one request; "" when the hub accepted it, else the problem (kept on the document)."""
        sub = action.subscription
        mode: Literal["subscribe", "unsubscribe"] = (
            "unsubscribe" if action.kind == "unsubscribe" else "subscribe")
        state: SubscriptionState = {"subscribe": "requested", "renew": sub.state,
                                    "unsubscribe": "unsubscribing"}[action.kind]
        self.store.save(replace(sub, state=state, requested_at=now, last_error=""))
        refused = self._refused(sub.hub)
        problem = refused
        if not refused:
            form = subscribe_form(sub, mode=mode, callback_base=self.settings.push.callback_url,
                                  master=master_secret(self.settings),
                                  lease_seconds=self.settings.push.lease_seconds)
            try:
                answer = self._http.post(sub.hub, data=form)
                if not 200 <= answer.status_code < 300:
                    problem = f"the hub answered HTTP {answer.status_code}: {answer.text[:200]}"
            except httpx.HTTPError as exc:
                problem = f"the hub could not be reached: {type(exc).__name__}: {exc}"
        if problem:
            message = f"{mode} {sub.feed_url} at {sub.hub}: {problem}"
            log.warning("%s", message)
            self.store.update(sub.key, last_error=problem)
            return message
        log.info("%s request for %s accepted by %s", action.kind, sub.feed_url, sub.hub)
        return ""

    def _refused(self, hub: str) -> str:
        """Why the address policy (fetch.allow_private_addresses ...) forbids this hub, or ""."""
        parts = urlsplit(hub)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"not an http(s) hub URL: {hub!r}"
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            return f"the hub's host does not resolve: {exc}"
        for info in infos:
            reason = self._policy.refusal_reason(str(info[4][0]), parts.hostname)
            if reason:
                return reason
        return ""


class PushSpool:
    """Received pushes on disk, one file each: a JSON header line, then the body as received.
    Written to a temporary name, fsynced, renamed and the folder fsynced before the receiver
    answers 2xx, so an acknowledged push survives a SIGKILL or a power cut."""

    SUFFIX = ".push"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.quarantine = directory / "quarantine"

    def put(self, push: PushedBody) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = push.received_at.strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{push.key}-{push.digest[:16]}{self.SUFFIX}"
        header = {"key": push.key, "nonce": push.nonce, "content_type": push.content_type,
                  "received_at": push.received_at.isoformat(), "digest": push.digest}
        temporary = self.directory / f".{name}.{secrets.token_hex(4)}.tmp"
        with open(temporary, "wb") as out:
            out.write(json.dumps(header).encode() + b"\n" + push.body)
            out.flush()
            os.fsync(out.fileno())
        final = self.directory / name
        os.replace(temporary, final)
        folder = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return final

    def paths(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"*{self.SUFFIX}"))

    @staticmethod
    def read(path: Path) -> PushedBody:
        data = path.read_bytes()
        head, _, body = data.partition(b"\n")
        try:
            header = json.loads(head)
            push = PushedBody(key=str(header["key"]), nonce=str(header["nonce"]), body=body,
                              content_type=str(header.get("content_type", "")),
                              received_at=parse_utc(header["received_at"]), digest=str(header["digest"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise PushSpoolCorrupt(path.name, f"unreadable header: {exc}") from exc
        if hashlib.sha256(body).hexdigest() != push.digest:
            raise PushSpoolCorrupt(path.name, "the body does not match its digest")
        return push

    def remove(self, paths: Iterable[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    def set_aside(self, path: Path) -> None:
        self.quarantine.mkdir(parents=True, exist_ok=True)
        os.replace(path, self.quarantine / path.name)
