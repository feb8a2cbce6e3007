"""WebSub against the local hub (tests/support/websub_hub.py), the real receiver and the real
Elasticsearch: the subscription lifecycle, signed pushes spooled, forged/replayed/huge/flooding
pushes refused and counted, a SIGKILL of the receiver after its 2xx, and the pushed feed processed
by the cycle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.push import PushSpool, PushStore, Subscriber
from ingest.types import FeedSpec, HubLinks
from ingest.websub import callback_for, derive_secret
from newsflow.app.push import process_pushes, push_spool, reconcile_subscriptions
from newsflow.core.es import make_client
from tests.conftest import OPT_IN_ENV, REPO
from tests.support.feedserver import Response
from tests.support.websub_hub import HubSubscription, LocalHub

UPDATED = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # one time: a re-sent item is unchanged


def atom(title: str, entries: list[tuple[str, str]], *, hub: str = "", self_url: str = "") -> bytes:
    links = (f'<link rel="hub" href="{hub}"/>' if hub else "") + (
        f'<link rel="self" href="{self_url}"/>' if self_url else "")
    items = "".join(f"<entry><id>{link}</id><title>{text}</title><link href=\"{link}\"/>"
                    f"<updated>{UPDATED}</updated>"
                    f"<content type=\"html\">&lt;p&gt;{text}. Officials in Paris said more would follow on "
                    f"Monday.&lt;/p&gt;</content></entry>" for text, link in entries)
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
            f"<id>urn:t</id><updated>{UPDATED}</updated>{links}{items}</feed>").encode()


def test_subscription_lifecycle_subscribe_verify_renew_unsubscribe(hub: LocalHub, receiver: Any) -> None:
    server, settings = receiver
    topic = "http://127.0.0.1:9/feed.atom"
    spec = FeedSpec(url=topic)
    client = make_client(settings)
    store = PushStore(client, settings)
    subscriber = Subscriber(store, settings)
    now = datetime.now(UTC)
    try:
        first = subscriber.reconcile([spec], {spec.key: HubLinks(hub.url, topic)}, now)
        assert (first.subscribed, first.problems) == (1, ())
        assert hub.wait_for(lambda: len(hub.subscribers(topic)) == 1)
        [on_hub] = hub.subscribers(topic)
        sub = store.get(spec.key)
        assert sub is not None and sub.state == "active" and sub.lease_seconds == settings.push.lease_seconds
        assert on_hub.callback == callback_for(settings.push.callback_url, spec.key, sub.nonce)
        assert on_hub.secret == derive_secret(b"test-master-secret", spec.key, sub.nonce)
        assert sub.expires_at is not None and sub.expires_at - now > timedelta(days=9)
        # Nothing to do until the lease nears its end; then the renewal keeps callback and secret.
        assert subscriber.reconcile([spec], {}, now + timedelta(days=1)).renewed == 0
        renewed = subscriber.reconcile([spec], {}, sub.expires_at - timedelta(hours=1))
        assert renewed.renewed == 1
        assert hub.wait_for(lambda: len(hub.verifications) == 2)
        again = store.get(spec.key)
        assert again is not None and again.state == "active" and again.nonce == sub.nonce
        assert again.verified_at is not None and sub.verified_at is not None
        assert again.verified_at > sub.verified_at
        assert hub.subscribers(topic)[0].secret == on_hub.secret
        # A verification we did not ask for (another topic, another nonce) is refused.
        forged = httpx.get(callback_for(settings.push.callback_url, spec.key, "x" * 16),
                           params={"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c"})
        assert forged.status_code == 404
        # Removed from the feeds file: unsubscribed, confirmed to the hub's verification.
        gone = subscriber.reconcile([], {}, now + timedelta(days=2))
        assert gone.unsubscribed == 1
        assert hub.wait_for(lambda: not hub.subscribers(topic))
        final = store.get(spec.key)
        assert final is not None and final.state == "unsubscribed"
        assert [v.mode for v in hub.verifications] == ["subscribe", "subscribe", "unsubscribe"]
        assert all(v.echoed for v in hub.verifications)
        assert server.receiver.counts["refused_verification"] == 1
    finally:
        subscriber.close()
        client.close()


def _subscribed(hub: LocalHub, settings: Any, topic: str) -> tuple[FeedSpec, str]:
    """A feed subscribed at the hub with a known nonce (the lifecycle is tested above)."""
    spec, nonce = FeedSpec(url=topic), "fixednonce01"
    callback = callback_for(settings.push.callback_url, spec.key, nonce)
    secret = derive_secret(settings.push.secret.get_secret_value().encode(), spec.key, nonce)
    hub.subscriptions[(topic, callback)] = HubSubscription(topic, callback, secret, 3600, time.time())
    return spec, callback


def test_signed_push_spooled_forged_replayed_huge_and_flood_refused_and_counted(
        hub: LocalHub, receiver: Any) -> None:
    server, settings = receiver
    topic = "http://127.0.0.1:9/news.atom"
    _subscribed(hub, settings, topic)
    spool = push_spool(settings)
    body = atom("News", [("Story one", "http://example.com/1")])
    [delivery] = hub.publish(topic, body)
    assert delivery.statuses == [202]
    [path] = spool.paths()
    assert PushSpool.read(path).body == body
    [forged] = hub.forge(topic, atom("News", [("Fake", "http://evil.example/")]))
    assert forged.statuses == [403, 403, 403]  # the hub retries; each attempt is refused
    [replayed] = [hub.replay(delivery)]
    assert replayed.statuses == [200]  # acknowledged so the hub stops, never spooled twice
    [huge] = hub.huge(topic, settings.push.max_body_bytes + 1)
    assert huge.statuses[-1] == 413
    flood = list(hub.flood(topic, 12))
    statuses = [d.statuses[-1] for d in flood]
    # Burst 5: the first push and the replay took two tokens (valid signatures), the flood gets 3.
    assert statuses.count(202) == 3 and statuses.count(429) == 9
    counts = server.receiver.counts
    assert (counts["accepted"], counts["forged"], counts["replayed"], counts["too_large"],
            counts["rate_limited"]) == (4, 3, 1, 3, 9)
    assert len(spool.paths()) == 4


def test_sha1_signatures_of_older_hubs_are_accepted(receiver: Any) -> None:
    _server, settings = receiver
    with LocalHub(algorithm="sha1") as old_hub:
        _subscribed(old_hub, settings, "http://127.0.0.1:9/old.atom")
        [delivery] = old_hub.publish("http://127.0.0.1:9/old.atom", atom("Old", [("x", "http://e/x")]))
    assert delivery.statuses == [202]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sigkill_after_2xx_loses_nothing(hub: LocalHub, push_settings: Any) -> None:
    port = _free_port()
    env = {**os.environ, **OPT_IN_ENV, "PYTHONPATH": str(REPO), "NEWSFLOW_HOME": str(push_settings.home),
           "NEWSFLOW_ES_URL": push_settings.es_url, "NEWSFLOW_INDEX_PREFIX": push_settings.index_prefix,
           "NEWSFLOW_PUSH__SECRET": "test-master-secret"}
    process = subprocess.Popen([sys.executable, "-m", "newsflow", "push", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        settings = push_settings.model_copy(update={"push": push_settings.push.model_copy(
            update={"callback_url": f"http://127.0.0.1:{port}/websub"})})
        topic = "http://127.0.0.1:9/kill.atom"
        _subscribed(hub, settings, topic)
        bodies = [atom("Kill", [(f"Story {n}", f"http://example.com/k{n}")]) for n in range(3)]
        statuses = [hub.publish(topic, body)[0].statuses[-1] for body in bodies]
        process.send_signal(signal.SIGKILL)  # right after the last 2xx
        process.wait(5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        assert process.stderr is not None
        process.stderr.close()
    assert statuses == [202, 202, 202]
    spooled = [PushSpool.read(path).body for path in push_spool(push_settings).paths()]
    assert sorted(spooled) == sorted(bodies)  # every acknowledged push, whole (digest checked)


@pytest.mark.slow
def test_a_polled_feed_with_a_hub_is_subscribed_and_its_pushes_processed_by_the_cycle(
        hub: LocalHub, receiver: Any, feed_server: Any, tmp_path: Path) -> None:
    from newsflow.app.cycle import Pipeline

    server, settings = receiver
    topic = feed_server.url("/pushed.atom")
    feed_server.route("/pushed.atom", Response(body=atom("Pushed", [("First story", "http://example.com/p1")],
                                                         hub=hub.url, self_url=topic)))
    spec = FeedSpec(url=topic)
    with Pipeline(settings) as pipeline:  # what run_cycle does: run, then keep the subscriptions up
        report = pipeline.run([spec])
        assert report.new == 1 and pipeline.hub_links[spec.key] == HubLinks(hub.url, topic)
        assert reconcile_subscriptions(pipeline.client, settings, [spec], pipeline.hub_links) == ()
        assert hub.wait_for(lambda: len(hub.subscribers(topic)) == 1)
        pushed = atom("Pushed", [("Second story", "http://example.com/p2"),
                                 ("First story", "http://example.com/p1")], hub=hub.url, self_url=topic)
        assert hub.publish(topic, pushed)[0].statuses == [202]
        run = process_pushes(settings, [spec], pipeline=pipeline)
        assert (run.pushes, run.feeds, run.dropped, run.problems) == (1, 1, 0, ())
        assert (run.report.new, run.report.updated, run.report.unchanged) == (1, 0, 1)
        assert push_spool(settings).paths() == []  # processed: gone from the push spool
        pipeline.client.indices.refresh(index=settings.index_name("articles"))
        titles = {hit["_source"]["title"] for hit in pipeline.client.search(
            index=settings.index_name("articles"), query={"match_all": {}})["hits"]["hits"]}
        assert titles == {"First story", "Second story"}
        assert server.receiver.counts["accepted"] == 1
