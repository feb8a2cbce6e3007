"""Deliveries slower than the lease: the recording lock and the delivery claims are renewed while a run
delivers, so a second run never sends the same alerts again; a run that lost its lock stops sending.

Real parts: a slow local webhook receiver (each POST takes longer than the lease set for the test),
two runs at once in threads with their own Elasticsearch clients, the real local Elasticsearch.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from newsflow.alerts import (
    AlertStore,
    RuleStore,
    alert_id_for,
    deliver_pending,
    match_and_deliver,
    match_articles,
)
from newsflow.alerts.delivery import send_budget
from newsflow.alerts.lock import LOCK_ID, locks_index
from newsflow.alerts.records import AlertRecord
from newsflow.alerts.store import Versioned
from newsflow.core.errors import AlertLockLost, AlertsBusy
from newsflow.core.es import make_client
from newsflow.core.models import Article, format_utc, utc_now
from tests.support.feedserver import RecordedRequest, Response

# Each POST takes longer than the lease: without renewal, a second run takes over mid-delivery.
LEASE = 0.5
POST_SECONDS = 0.8


def _stories(make_article: Callable[..., Article]) -> list[Article]:
    return [make_article(f"https://example.com/rates/{n}", story_id=f"s{n}") for n in range(3)]


def _slow_settings(alert_settings: Callable[..., Any]) -> Any:
    return alert_settings(delivery_lease=LEASE, lock_wait=60.0, webhook_timeout=3.0, webhook_retries=0)


def _posts_per_alert(feed_server: Any, path: str) -> Counter[str]:
    return Counter(r.headers["Idempotency-Key"] for r in feed_server.requests_to(path))


def _run_together(settings: Any, *runs: Callable[[Any], Any]) -> list[Any]:
    """Run each function in its own thread with its own client, at the same time; their results
    (or the exception each raised)."""
    results: list[Any] = [None] * len(runs)
    start = threading.Barrier(len(runs))

    def run(index: int, function: Callable[[Any], Any]) -> None:
        client = make_client(settings)
        try:
            start.wait()
            results[index] = function(client)
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(n, f)) for n, f in enumerate(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_two_runs_at_once_with_a_receiver_slower_than_the_lease_post_each_alert_once(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = _slow_settings(alert_settings)
    hook = feed_server.route("/slow", Response(status=200, delay=POST_SECONDS))
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    stories = _stories(make_article)

    def cycle(client: Any) -> Any:
        return match_and_deliver(client, settings, stories)

    first, second = _run_together(settings, cycle, cycle)

    assert not isinstance(first, Exception) and not isinstance(second, Exception), (first, second)
    assert _posts_per_alert(feed_server, "/slow") == {alert_id_for("rates", f"s{n}"): 1 for n in range(3)}
    assert sorted(result[1].sent for result in (first, second)) == [0, 3]
    records = AlertStore(es_client, settings).all()
    assert sorted((r.story_id, r.status) for r in records) == [(f"s{n}", "sent") for n in range(3)]


def test_two_retry_runs_with_a_receiver_slower_than_the_claims_post_each_alert_once(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = _slow_settings(alert_settings)
    hook = feed_server.route("/slow", Response(status=200, delay=POST_SECONDS))
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    match_articles(es_client, settings, _stories(make_article))  # three alerts pending delivery

    def early(client: Any) -> Any:
        return deliver_pending(client, settings)

    def late(client: Any) -> Any:
        time.sleep(2 * LEASE)  # the first run's original claims have run out by now
        return deliver_pending(client, settings)

    first, second = _run_together(settings, early, late)

    assert (first.sent, second.sent) == (3, 0)
    assert _posts_per_alert(feed_server, "/slow") == {alert_id_for("rates", f"s{n}"): 1 for n in range(3)}
    assert {r.status for r in AlertStore(es_client, settings).all()} == {"sent"}


def test_a_run_that_lost_its_lock_stops_sending_and_the_next_run_sends_the_rest(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = _slow_settings(alert_settings)

    def take_the_lock_over(_: RecordedRequest) -> Response:
        # While the first POST is in flight, another run writes the lock as its own (as one would
        # after this run's lease had run out unrenewed).
        if not feed_server.requests_to("/slow")[1:]:
            es_client.index(index=locks_index(settings), id=LOCK_ID, refresh=True, document={
                "holder": "intruder", "until": format_utc(utc_now())})
        time.sleep(2 * POST_SECONDS)  # ample time for the heartbeat (every LEASE / 3) to notice
        return Response(status=200)

    hook = feed_server.route("/slow", take_the_lock_over)
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    stories = _stories(make_article)

    with pytest.raises(AlertLockLost, match="passed to intruder") as caught:
        match_and_deliver(es_client, settings, stories)

    assert isinstance(caught.value, AlertsBusy)  # the cycle keeps the articles queued for it
    [sent] = feed_server.requests_to("/slow")
    [recorded] = AlertStore(es_client, settings).all()  # what was sent is recorded; the rest is not
    assert (recorded.id, recorded.status) == (sent.headers["Idempotency-Key"], "sent")

    _, rest = match_and_deliver(es_client, settings, stories)  # the intruder's lease has ended

    assert rest.sent == 2
    assert _posts_per_alert(feed_server, "/slow") == {alert_id_for("rates", f"s{n}"): 1 for n in range(3)}


def test_a_retry_run_whose_claims_another_run_took_stops_sending_them(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = _slow_settings(alert_settings)
    store = AlertStore(es_client, settings)
    taken: list[str] = []

    def claim_the_others(request: RecordedRequest) -> Response:
        # While the first POST is in flight, another run claims the two alerts not yet sent.
        in_flight = request.headers["Idempotency-Key"]
        while len(taken) < 2:  # (its read and write can race this run's heartbeat: it tries again)
            es_client.indices.refresh(index=store.index)
            hits = es_client.search(index=store.index, seq_no_primary_term=True)["hits"]["hits"]
            others = [Versioned(AlertRecord.from_source(hit["_source"]), hit["_seq_no"],
                                hit["_primary_term"])
                      for hit in hits if hit["_id"] != in_flight and hit["_id"] not in taken]
            won = store.claim(others, until=utc_now() + timedelta(minutes=5))
            taken.extend(item.record.id for item in won)
        time.sleep(2 * POST_SECONDS)  # ample time for the heartbeat (every LEASE / 3) to notice
        return Response(status=200)

    hook = feed_server.route("/slow", claim_the_others)
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    match_articles(es_client, settings, _stories(make_article))

    result = deliver_pending(es_client, settings)

    assert len(taken) == 2
    [sent] = feed_server.requests_to("/slow")
    assert result.sent == 1
    by_id = {record.id: record for record in store.all()}
    assert by_id[sent.headers["Idempotency-Key"]].status == "sent"
    assert {by_id[alert_id].status for alert_id in taken} == {"pending"}  # the other run's to send


def test_the_send_budget_covers_every_quick_attempt_and_its_backoff(
    alert_settings: Callable[..., Any],
) -> None:
    config = alert_settings(webhook_timeout=10.0, webhook_retries=2, webhook_retry_backoff=0.5,
                            smtp_timeout=30.0).alerts

    assert send_budget("webhook", config) == 3 * 10.0 + 0.5 + 1.0
    assert send_budget("email", config) == 60.0
    assert send_budget("log", config) > 0


def test_a_lock_read_answered_no_shard_available_waits_for_the_shard_and_takes_the_lock(
        make_settings: Callable[..., Any], es_url: str) -> None:
    # Found by CI: two runs at once, one creating the locks index; the other's first read of the
    # lock hit the new index before its shard started (503) and the whole run failed. Elasticsearch
    # cannot be made to answer so on demand, so the proxy answers the first read with a 503, and the
    # client's two retries of it too.
    from newsflow.alerts.lock import RecordingLock
    from tests.support.esproxy import ElasticsearchProxy

    direct = make_settings()
    RecordingLock(make_client(direct), direct).ensure()
    with ElasticsearchProxy(es_url, plan=["503"] * 3, paths=(f"/_doc/{LOCK_ID}",)) as proxy:
        settings = make_settings(es_url=proxy.url, index_prefix=direct.index_prefix)
        lock = RecordingLock(make_client(settings), settings)
        assert lock.try_acquire() is None  # taken: None means no other holder
        assert proxy.faults == ["503"] * 3
    stored = make_client(direct).get(index=locks_index(direct), id=LOCK_ID)["_source"]
    assert stored["holder"] == lock.holder
