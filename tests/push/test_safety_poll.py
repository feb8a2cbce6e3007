"""The safety poll against the local hub, the receiver and the real Elasticsearch: once its hub has
verified the subscription, a pushed feed is due only every `push.safety_poll`, while a feed without
a hub keeps its interval; a lapsed lease, or subscriptions that cannot be read, restore the normal
schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ingest.push import PushStore
from ingest.types import FeedSpec
from newsflow.app.cycle import Pipeline
from newsflow.app.push import reconcile_subscriptions
from newsflow.core.models import utc_now
from tests.push.test_websub_hub import atom
from tests.support.feedserver import Response
from tests.support.websub_hub import LocalHub


def test_a_subscribed_feed_waits_for_its_safety_poll_and_a_lapsed_one_does_not(
        hub: LocalHub, receiver: Any, feed_server: Any) -> None:
    _server, settings = receiver
    pushed_url, polled_url = feed_server.url("/pushed.atom"), feed_server.url("/polled.atom")
    # No entries: nothing to enrich (no spaCy load), the schedule is all this test is about.
    feed_server.route("/pushed.atom", Response(body=atom("Pushed", [], hub=hub.url, self_url=pushed_url)))
    feed_server.route("/polled.atom", Response(body=atom("Polled", [])))
    pushed, polled = FeedSpec(url=pushed_url), FeedSpec(url=polled_url)
    specs = [pushed, polled]
    with Pipeline(settings) as pipeline:
        report = pipeline.run(specs)
        assert report.problems == () and set(pipeline.hub_links) == {pushed.key}
        assert reconcile_subscriptions(pipeline.client, settings, specs, pipeline.hub_links) == ()
        assert hub.wait_for(lambda: len(hub.subscribers(pushed_url)) == 1)
        store = PushStore(pipeline.client, settings)
        assert store.get(pushed.key).state == "active"  # type: ignore[union-attr]
        polled_at = utc_now()
        # Both were given the default interval (30 min); only the unsubscribed one is due after 2 h.
        assert pipeline.select_due(specs, polled_at + timedelta(hours=2)) == [polled]
        assert pipeline.select_due(specs, polled_at + timedelta(days=1, seconds=30)) == specs
        # The hub's lease ran out (a renewal that failed): polled on its normal schedule again.
        store.update(pushed.key, expires_at=polled_at)
        assert pipeline.select_due(specs, polled_at + timedelta(hours=2)) == specs
        store.update(pushed.key, expires_at=polled_at + timedelta(days=10))
        assert pipeline.select_due(specs, polled_at + timedelta(hours=2)) == [polled]
    # Elasticsearch unreachable: states from the local cache, no subscriptions: the normal schedule.
    down = settings.model_copy(update={"es_url": "http://127.0.0.1:9", "index": settings.index.model_copy(
        update={"bulk_retries": 0})})
    with Pipeline(down) as offline:
        assert offline.select_due(specs, polled_at + timedelta(minutes=10)) == []  # the cached states
        assert offline.select_due(specs, polled_at + timedelta(hours=2)) == specs
