"""New alerts delivered at once are recorded once, with their outcome (one write per alert), under
the prefix's recording lock; a run that cannot get the lock delivers nothing and leaves its articles
for a later run."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from newsflow.alerts import (
    AlertStore,
    RecordingLock,
    RuleStore,
    alert_id_for,
    deliver_pending,
    match_and_deliver,
)
from newsflow.alerts.lock import LOCK_ID
from newsflow.core.errors import AlertsBusy
from newsflow.core.models import Article, utc_now
from tests.support.feedserver import Response

pytestmark = [pytest.mark.es]


def _copies(make_article: Callable[..., Article]) -> list[Article]:
    return [
        make_article("https://wire.example.com/rates", source="Wire", story_id="story-rates"),
        make_article("https://daily.example.org/rates-rise", source="Daily", story_id="story-rates"),
    ]


def test_a_new_alert_is_delivered_then_recorded_sent_in_one_write(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any, tmp_path: Path,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings()
    hook = feed_server.route("/hook", Response(status=200))
    log_file = tmp_path / "alerts.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}", f"log:{log_file}"])

    matched, delivered = match_and_deliver(es_client, settings, _copies(make_article))

    assert (matched.matched, matched.created, matched.duplicates) == (2, 1, 1)
    assert (delivered.sent, delivered.failed, delivered.deferred) == (2, 0, 0)
    es_client.indices.refresh(index=AlertStore(es_client, settings).index)
    [hit] = es_client.search(index=AlertStore(es_client, settings).index, version=True)["hits"]["hits"]
    assert hit["_version"] == 1  # written once, already with its delivery status
    assert hit["_source"]["status"] == "sent"
    assert [d["status"] for d in hit["_source"]["deliveries"]] == ["sent", "sent"]
    assert json.loads(feed_server.requests_to("/hook")[0].body)["id"] == alert_id_for("rates", "story-rates")
    assert len(log_file.read_text().splitlines()) == 1


def test_a_rerun_or_a_later_copy_of_the_story_is_not_delivered_again(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings()
    hook = feed_server.route("/hook", Response(status=200))
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    wire, daily = _copies(make_article)

    match_and_deliver(es_client, settings, [wire])
    # No refresh in between: the check for recorded alerts is real-time.
    again, delivered = match_and_deliver(es_client, settings, [daily, wire])

    assert (again.created, again.duplicates, delivered.sent) == (0, 2, 0)
    assert len(feed_server.requests_to("/hook")) == 1


def test_a_failed_delivery_is_recorded_pending_and_retried_with_the_same_id(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(webhook_retries=0, retry_backoff=60.0)
    responses = iter([Response(status=503), Response(status=204)])
    hook = feed_server.route("/flaky", lambda _request: next(responses))
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    now = utc_now()

    _, first = match_and_deliver(es_client, settings, _copies(make_article), now=now)
    [record] = AlertStore(es_client, settings).all()
    retry = deliver_pending(es_client, settings, now=now + timedelta(seconds=61))

    assert (first.sent, first.deferred) == (0, 1)
    assert record.status == "pending" and record.deliveries[0].attempts == 1
    assert retry.sent == 1
    ids = {r.headers["Idempotency-Key"] for r in feed_server.requests_to("/flaky")}
    assert ids == {alert_id_for("rates", "story-rates")}


def test_a_run_that_cannot_get_the_recording_lock_delivers_nothing(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any,
    make_article: Callable[..., Article],
) -> None:
    settings = alert_settings(lock_wait=0.3)
    hook = feed_server.route("/hook", Response(status=200))
    RuleStore(es_client, settings).add("rates", "interest rates", [f"webhook:{hook}"])
    other = RecordingLock(es_client, settings, holder="other-run")
    other.acquire(wait=0)

    with pytest.raises(AlertsBusy, match="other-run"):
        match_and_deliver(es_client, settings, _copies(make_article))
    assert feed_server.requests_to("/hook") == []

    other.release()
    _, delivered = match_and_deliver(es_client, settings, _copies(make_article))
    assert delivered.sent == 1


def test_the_lock_is_free_after_use_and_an_expired_lease_can_be_taken_over(
    alert_settings: Callable[..., Any], es_client: Any,
) -> None:
    settings = alert_settings(delivery_lease=60.0)
    first = RecordingLock(es_client, settings, holder="first")
    second = RecordingLock(es_client, settings, holder="second")
    now = utc_now()

    assert first.try_acquire(now) is None
    assert first.try_acquire(now) is None  # a holder may renew its own lease
    assert second.try_acquire(now)["holder"] == "first"
    assert second.try_acquire(now + timedelta(seconds=61)) is None  # first's lease ran out
    first.release()  # no longer first's: left alone
    assert es_client.get(index=second.index, id=LOCK_ID)["_source"]["holder"] == "second"
    second.release()
    assert not es_client.options(ignore_status=404).get(index=second.index, id=LOCK_ID)["found"]


def test_an_alerts_index_of_an_earlier_version_gains_only_the_fields_it_lacks() -> None:
    from newsflow.alerts.store import ALERT_PROPERTIES, missing_properties

    earlier = {name: spec for name, spec in ALERT_PROPERTIES.items() if name != "delivered_at"}
    earlier["query"] = {"type": "keyword", "ignore_above": 8191}  # indexed, as it used to be
    earlier["deliveries"] = {"type": "object", "properties": {"channel": {"type": "keyword"}}}

    missing = missing_properties(earlier, ALERT_PROPERTIES)

    assert set(missing) == {"delivered_at", "deliveries"}  # `query` is left as it is
    assert "channel" not in missing["deliveries"]["properties"]
    assert "status" in missing["deliveries"]["properties"]
    assert missing_properties(ALERT_PROPERTIES, ALERT_PROPERTIES) == {}
