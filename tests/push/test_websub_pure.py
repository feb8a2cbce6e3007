"""WebSub decisions without I/O: discovery, signatures, the lease plan, the receiver's guards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.parse import parse_feed
from ingest.types import FeedSpec, HubLinks
from ingest.websub import (
    RateLimiter,
    ReplayGuard,
    Subscription,
    SubscriptionState,
    callback_for,
    derive_secret,
    discover,
    parse_callback_path,
    plan,
    pushed_keys,
    renewal_due,
    sign,
    signature_valid,
)
from newsflow.core.settings import PushSettings

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
ATOM = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        b'<link rel="hub" href="https://hub.example/"/><link rel="self" href="https://ex.com/feed.atom"/>'
        b"<entry><id>1</id><title>a</title></entry></feed>")
RSS = (b'<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
       b'<title>T</title><link>https://ex.com/</link><atom:link rel="hub" href="/hub"/>'
       b"<item><title>a</title></item></channel></rss>")


def test_hub_and_self_are_found_in_atom_rss_json_and_link_headers() -> None:
    atom = parse_feed(ATOM)
    assert (atom.hubs, atom.self_url) == (("https://hub.example/",), "https://ex.com/feed.atom")
    assert discover(atom, {}, "https://ex.com/f") == HubLinks("https://hub.example/", "https://ex.com/feed.atom")
    # A relative hub is resolved against the fetched URL; no self link: the fetched URL is the topic.
    assert discover(parse_feed(RSS), {}, "https://ex.com/rss") == HubLinks("https://ex.com/hub",
                                                                         "https://ex.com/rss")
    json_feed = parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", "items": [], '
                           b'"feed_url": "https://ex.com/j", "hubs": [{"type": "WebSub", "url": "https://h/"}]}')
    assert discover(json_feed, {}, "https://ex.com/x") == HubLinks("https://h/", "https://ex.com/j")
    # Link headers come first (the spec's order).
    headers = {"link": '<https://other.hub/>; rel="hub", <https://ex.com/canonical>; rel="self"'}
    assert discover(atom, headers, "https://ex.com/f") == HubLinks("https://other.hub/",
                                                                  "https://ex.com/canonical")
    assert discover(parse_feed(b"<rss version='2.0'><channel><title>x</title></channel></rss>"), {},
                    "https://ex.com/") is None


def test_signatures_sha256_and_sha1_are_checked_and_anything_else_refused() -> None:
    secret = derive_secret(b"master", "a" * 24, "nonce1234")
    assert secret != derive_secret(b"master", "a" * 24, "nonce1235")
    body = b"<feed/>"
    assert signature_valid(sign(body, secret), body, secret)
    assert signature_valid(sign(body, secret, "sha1"), body, secret)
    assert not signature_valid(sign(body, secret), body + b" ", secret)
    assert not signature_valid(sign(body, "other"), body, secret)
    assert not signature_valid("md5=" + sign(body, secret).split("=")[1], body, secret)
    assert not signature_valid("", body, secret)
    url = callback_for("https://news.example/websub/", "a" * 24, "nonce1234")
    assert url == f"https://news.example/websub/{'a' * 24}/nonce1234"
    assert parse_callback_path("/websub/" + "a" * 24 + "/nonce1234?hub.mode=x") == ("a" * 24, "nonce1234")
    assert parse_callback_path("/websub/../etc/passwd") is None


def test_the_plan_subscribes_renews_retries_and_unsubscribes() -> None:
    push = PushSettings(renew_before=86400, verify_wait=3600)
    spec = FeedSpec(url="https://ex.com/f")
    links = HubLinks("https://hub/", "https://ex.com/f")
    # New: subscribe with a fresh nonce.
    [action] = plan({spec.key: spec}, {spec.key: links}, {}, NOW, push, nonce=lambda: "n" * 12)
    assert (action.kind, action.subscription.nonce, action.subscription.hub) == ("subscribe", "n" * 12, "https://hub/")
    active = Subscription(key=spec.key, feed_url=spec.url, hub="https://hub/", topic="https://ex.com/f",
                          nonce="n" * 12, state="active", requested_at=NOW, verified_at=NOW,
                          expires_at=NOW + timedelta(days=10), lease_seconds=10 * 86400)
    assert plan({spec.key: spec}, {spec.key: links}, {spec.key: active}, NOW, push) == []
    # Within a day of expiry: renew (also when this poll found no hub, e.g. a 304).
    later = NOW + timedelta(days=9, hours=1)
    assert [a.kind for a in plan({spec.key: spec}, {}, {spec.key: active}, later, push)] == ["renew"]
    # A short lease renews at half its length.
    assert renewal_due(NOW + timedelta(seconds=51), NOW + timedelta(seconds=100), 100, 86400)
    assert not renewal_due(NOW + timedelta(seconds=49), NOW + timedelta(seconds=100), 100, 86400)
    # Another hub announced: subscribe there (fresh nonce, fresh secret).
    elsewhere = {spec.key: HubLinks("https://hub2/", spec.url)}
    moved = plan({spec.key: spec}, elsewhere, {spec.key: active}, NOW, push)
    assert [(a.kind, a.subscription.hub) for a in moved] == [("subscribe", "https://hub2/")]
    # Unverified for longer than verify_wait: ask again, same nonce.
    pending = Subscription(key=spec.key, feed_url=spec.url, hub="https://hub/", topic=spec.url,
                           nonce="m" * 12, requested_at=NOW)
    assert plan({spec.key: spec}, {}, {spec.key: pending}, NOW + timedelta(minutes=59), push) == []
    [again] = plan({spec.key: spec}, {}, {spec.key: pending}, NOW + timedelta(hours=1), push)
    assert (again.kind, again.subscription.nonce) == ("subscribe", "m" * 12)
    # Removed from the feeds file: unsubscribe; once unsubscribed, nothing more.
    assert [a.kind for a in plan({}, {}, {spec.key: active}, NOW, push)] == ["unsubscribe"]
    gone = Subscription(key=spec.key, feed_url=spec.url, hub="h", topic="t", nonce="x" * 12,
                        state="unsubscribed")
    assert plan({}, {}, {spec.key: gone}, NOW, push) == []


def test_only_active_unexpired_subscriptions_count_as_pushed() -> None:
    def sub(key: str, state: SubscriptionState = "requested",
            expires_at: datetime | None = None) -> Subscription:
        return Subscription(key=key, feed_url=f"https://ex.com/{key}", hub="https://hub.example/",
                            topic=f"https://ex.com/{key}", nonce="n0nce-0001", state=state,
                            expires_at=expires_at)

    subs = {"live": sub("live", state="active", expires_at=NOW + timedelta(days=3)),
            "no-lease": sub("no-lease", state="active"),
            "lapsed": sub("lapsed", state="active", expires_at=NOW),
            "asked": sub("asked"), "denied": sub("denied", state="denied"),
            "leaving": sub("leaving", state="unsubscribing"), "gone": sub("gone", state="unsubscribed")}
    assert pushed_keys(subs, NOW) == {"live", "no-lease"}
    assert pushed_keys(subs, NOW + timedelta(days=3)) == {"no-lease"}


def test_replay_window_and_rate_bucket() -> None:
    guard = ReplayGuard(window=60)
    guard.remember("k", "d", 0.0)
    assert guard.is_replay("k", "d", 59.0) and not guard.is_replay("j", "d", 59.0)
    assert not guard.is_replay("k", "d", 61.0)
    bucket = RateLimiter(rate=1.0, burst=3)
    assert [bucket.allow("k", 0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow("k", 1.0) and not bucket.allow("k", 1.0)
    assert bucket.allow("other", 1.0)
