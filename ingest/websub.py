"""WebSub (W3C Recommendation, https://www.w3.org/TR/websub/) as pure functions over data.

Discovery of a feed's hub and topic, the subscription request, the per-subscription secret and the
signature of a push, the lease decisions (subscribe, renew, unsubscribe: `plan`), the replay and
rate guards of the receiver, and turning a pushed body into the FeedResult a poll would have made.
No I/O here: the hub requests, the Elasticsearch store and the spool are in ingest/push.py, the
receiver and the processing in newsflow/app/push.py (docs/push.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urljoin, urlsplit

from ingest.normalise import normalise_feed
from ingest.parse import ParsedFeed, parse_feed
from ingest.text import clean_title
from ingest.types import FeedResult, FeedSpec, FeedState, HubLinks
from newsflow.core.errors import ParseError
from newsflow.core.models import Article
from newsflow.core.settings import PushSettings

__all__ = ["HubLinks"]  # re-exported: defined beside FeedResult, which carries it

SubscriptionState = Literal["requested", "active", "denied", "unsubscribing", "unsubscribed"]
ActionKind = Literal["subscribe", "renew", "unsubscribe"]

# X-Hub-Signature methods the spec allows (sha1 for older hubs); anything else is refused.
SIGNATURE_METHODS = ("sha1", "sha256", "sha384", "sha512")
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_PARAM = re.compile(r";\s*([A-Za-z*]+)\s*=\s*(\"[^\"]*\"|[^;,\s]+)")
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}\Z")
_KEY = re.compile(r"[0-9a-f]{24}\Z")


@dataclass(frozen=True, slots=True)
class Subscription:
    """One feed's subscription, as stored (`<prefix>-push`, one document per feed key)."""

    key: str  # feed_key of the URL in the feeds file
    feed_url: str  # the URL in the feeds file
    hub: str
    topic: str
    nonce: str  # in the callback path; with the master secret it gives hub.secret
    state: SubscriptionState = "requested"
    requested_at: datetime | None = None  # the last (un)subscribe request sent
    verified_at: datetime | None = None  # the hub's last verification of intent we confirmed
    expires_at: datetime | None = None  # verified_at + the lease the hub granted
    lease_seconds: int | None = None  # the lease the hub granted
    last_error: str = ""  # the hub's refusal, a denial's reason, a request that failed


@dataclass(frozen=True, slots=True)
class Action:
    """One request to send to a hub: subscribe (a new or unverified subscription), renew or unsubscribe."""

    kind: ActionKind
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class PushedBody:
    """One push as the receiver spooled it."""

    key: str
    nonce: str
    body: bytes
    content_type: str
    received_at: datetime
    digest: str  # sha256 of the body, hex


# --- discovery ---

def parse_link_header(value: str) -> list[tuple[str, tuple[str, ...]]]:
    """`<https://hub>; rel="hub", <https://self>; rel=self` -> [(url, rels), ...] (RFC 8288)."""
    links: list[tuple[str, tuple[str, ...]]] = []
    for match in _LINK.finditer(value or ""):
        rels: tuple[str, ...] = ()
        for name, raw in _PARAM.findall(match.group(2)):
            if name.lower() == "rel":
                rels = tuple(raw.strip('"').lower().split())
        links.append((match.group(1).strip(), rels))
    return links


def discover(feed: ParsedFeed | None, headers: Mapping[str, str], fetch_url: str) -> HubLinks | None:
    """The hub and topic a fetched feed announces (HTTP Link headers first, then the feed's own
    links, as the spec orders them), resolved against the fetched URL; None without an http(s) hub.
    The topic falls back to the fetched URL when the feed names no self link."""
    from_header = parse_link_header(headers.get("link", ""))
    hubs = [url for url, rels in from_header if "hub" in rels]
    selves = [url for url, rels in from_header if "self" in rels]
    if feed is not None:
        hubs += list(feed.hubs)
        selves += [feed.self_url] if feed.self_url else []
    resolved = [urljoin(fetch_url, hub) for hub in hubs]
    hub = next((url for url in resolved if urlsplit(url).scheme in ("http", "https")), "")
    if not hub:
        return None
    topic = urljoin(fetch_url, selves[0]) if selves else fetch_url
    return HubLinks(hub=hub, topic=topic)


# --- the request, the callback and the secret ---

def new_nonce() -> str:
    return secrets.token_urlsafe(12)


def callback_for(base_url: str, key: str, nonce: str) -> str:
    """The callback URL of one subscription: <base>/<feed key>/<nonce>."""
    return f"{base_url.rstrip('/')}/{key}/{nonce}"


def parse_callback_path(path: str) -> tuple[str, str] | None:
    """(key, nonce) from the end of a callback path ("/anything/<key>/<nonce>"), or None."""
    parts = [part for part in urlsplit(path).path.split("/") if part]
    if len(parts) < 2 or not _KEY.match(parts[-2]) or not _NONCE.match(parts[-1]):
        return None
    return parts[-2], parts[-1]


def derive_secret(master: bytes, key: str, nonce: str) -> str:
    """hub.secret of one subscription: HMAC-SHA256(master, key:nonce), hex (64 characters, under
    the spec's 200-byte limit). Nothing secret is stored; a new nonce is a new secret."""
    return hmac.new(master, f"{key}:{nonce}".encode(), hashlib.sha256).hexdigest()


def subscribe_form(subscription: Subscription, *, mode: Literal["subscribe", "unsubscribe"],
                   callback_base: str, master: bytes, lease_seconds: int) -> dict[str, str]:
    """The form body of a (un)subscribe request to the hub."""
    form = {"hub.mode": mode, "hub.topic": subscription.topic,
            "hub.callback": callback_for(callback_base, subscription.key, subscription.nonce)}
    if mode == "subscribe":
        form["hub.secret"] = derive_secret(master, subscription.key, subscription.nonce)
        form["hub.lease_seconds"] = str(lease_seconds)
    return form


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The X-Hub-Signature value of a body: `<method>=<hex HMAC>`."""
    return f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"


def signature_valid(header: str, body: bytes, secret: str) -> bool:
    """Whether X-Hub-Signature is a valid HMAC of the body (constant-time compare)."""
    method, _, given = (header or "").strip().partition("=")
    method = method.strip().lower()
    if method not in SIGNATURE_METHODS or not given:
        return False
    expected = hmac.new(secret.encode(), body, method).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


# --- lease decisions ---

def renew_at(expires_at: datetime, lease_seconds: int | None, renew_before: float) -> datetime:
    """When a lease is renewed: `renew_before` ahead of its expiry, at most half the lease ahead."""
    ahead = renew_before if not lease_seconds else min(renew_before, lease_seconds / 2)
    return expires_at - timedelta(seconds=ahead)


def renewal_due(now: datetime, expires_at: datetime | None, lease_seconds: int | None,
                renew_before: float) -> bool:
    """Whether an active lease should be renewed now (a lease without an expiry: never)."""
    return expires_at is not None and now >= renew_at(expires_at, lease_seconds, renew_before)


def plan(listed: Mapping[str, FeedSpec], discovered: Mapping[str, HubLinks],
         subscriptions: Mapping[str, Subscription], now: datetime, push: PushSettings, *,
         nonce: Callable[[], str] = new_nonce) -> list[Action]:
    """What to ask the hubs now. `listed`: the feeds file by key; `discovered`: the hubs the feeds
    announced in this poll; `subscriptions`: what is stored.

    - a listed feed announcing a hub with no live subscription to it (none, unsubscribed, another
      hub or topic): subscribe, with a fresh nonce (so a fresh secret);
    - requested but not verified within `verify_wait`, or denied longer than `denied_retry` ago:
      subscribe again;
    - active and within `renew_before` of its expiry: renew (same callback and secret);
    - stored but no longer in the feeds file: unsubscribe (again if unconfirmed after `verify_wait`).
    """
    actions: list[Action] = []
    wait = timedelta(seconds=push.verify_wait)
    for key, stored in subscriptions.items():
        if key in listed or stored.state == "unsubscribed":
            continue
        if stored.state != "unsubscribing" or _older(stored.requested_at, now, wait):
            actions.append(Action("unsubscribe", stored))
    for key, spec in listed.items():
        links = discovered.get(key)
        sub = subscriptions.get(key)
        if links is not None and (sub is None or sub.state in ("unsubscribed", "unsubscribing")
                                  or (sub.hub, sub.topic) != (links.hub, links.topic)):
            fresh = Subscription(key=key, feed_url=spec.url, hub=links.hub, topic=links.topic,
                                 nonce=nonce())
            actions.append(Action("subscribe", fresh))
        elif sub is None:
            continue
        elif _retry_due(sub, now, wait, timedelta(seconds=push.denied_retry)):
            actions.append(Action("subscribe", sub))
        elif sub.state == "active" and renewal_due(now, sub.expires_at, sub.lease_seconds, push.renew_before):
            actions.append(Action("renew", sub))
    return actions


def pushed_keys(subscriptions: Mapping[str, Subscription], now: datetime) -> frozenset[str]:
    """The feed keys whose pushes are live: an active subscription whose lease has not expired
    (those feeds get only the slow safety poll; any other state is polled as usual)."""
    return frozenset(key for key, sub in subscriptions.items()
                     if sub.state == "active" and (sub.expires_at is None or sub.expires_at > now))


def _retry_due(sub: Subscription, now: datetime, wait: timedelta, denied_retry: timedelta) -> bool:
    """An unverified request past its wait, or a denial past its retry delay."""
    return ((sub.state == "requested" and _older(sub.requested_at, now, wait))
            or (sub.state == "denied" and _older(sub.requested_at, now, denied_retry)))


def _older(moment: datetime | None, now: datetime, age: timedelta) -> bool:
    return moment is None or now - moment >= age


# --- the receiver's guards ---

class ReplayGuard:
    """Remembers the body digests accepted per subscription for `window` seconds: the same body for
    the same subscription again within it is a replay. Bounded: at most `limit` digests in all."""

    def __init__(self, window: float, limit: int = 100_000) -> None:
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def is_replay(self, key: str, digest: str, now: float) -> bool:
        self._expire(now)
        return (key, digest) in self._seen

    def remember(self, key: str, digest: str, now: float) -> None:
        self._seen[(key, digest)] = now
        self._seen.move_to_end((key, digest))
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def forget(self, key: str, digest: str) -> None:
        self._seen.pop((key, digest), None)

    def _expire(self, now: float) -> None:
        while self._seen:
            first, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self.window:
                return
            del self._seen[first]


class RateLimiter:
    """A token bucket per subscription: `burst` pushes at once, `rate` per second sustained."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def allow(self, key: str, now: float) -> bool:
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True


# --- processing ---

def pushed_result(spec: FeedSpec, state: FeedState | None, pushes: Sequence[PushedBody], *,
                  fetch_url: str, max_bytes: int) -> FeedResult:
    """The FeedResult of one feed's pushed bodies: each parsed as a fetch of `fetch_url` at the time
    it was received, then normalised as a poll would. The feed's polling state (validators, next
    poll) is left as it was: a push is not a poll. A body that is not a feed is a warning."""
    state = state or FeedState(key=spec.key, url=spec.url)
    articles: list[Article] = []
    warnings: list[str] = []
    title = ""
    for push in pushes:
        try:
            feed = parse_feed(push.body, url=fetch_url, content_type=push.content_type, max_bytes=max_bytes)
        except ParseError as exc:
            warnings.append(f"push {push.digest[:12]}: {exc.reason}")
            continue
        found, more = normalise_feed(spec, feed, fetch_url, push.received_at)
        articles.extend(found)
        warnings.extend(feed.warnings + more)
        title = clean_title(feed.title) or title
    new_state = replace(state, title=title or state.title)
    if not articles and warnings:
        return FeedResult(spec=spec, status="failed", state=new_state, reason="; ".join(warnings))
    return FeedResult(spec=spec, status="fetched", state=new_state, articles=tuple(articles),
                      reason="; ".join(warnings), warnings=tuple(warnings))
