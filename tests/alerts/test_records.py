"""Alert records as values: their status, their document in the alerts index, and how they are made."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from newsflow.alerts.chat import message_for
from newsflow.alerts.records import (
    AlertRecord,
    AlertRevision,
    NewRecords,
    alert_id_for,
    attempt_failed,
    delivered,
    edit_alert_id_for,
    new_record,
    with_deliveries,
)
from newsflow.alerts.rules import Rule
from newsflow.alerts.senders import build_email
from newsflow.core.models import Article
from newsflow.core.settings import AlertSettings

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
RULE = Rule("rates", "interest AND rates", ("log:/tmp/rates.jsonl", "webhook:http://127.0.0.1:9/hook"), NOW)


def article(article_id: str = "a1", story_id: str = "s1") -> Article:
    return Article(id=article_id, url=f"https://example.org/{article_id}", title=f"Rates rise ({article_id})",
                   summary="", body="", source="Example World", feed_url="http://127.0.0.1:8000/world.xml",
                   published_at=NOW - timedelta(hours=1), ingested_at=NOW, story_id=story_id)


def settled(record: AlertRecord, *outcomes: str) -> AlertRecord:
    """The record after one attempt per channel: 'sent', 'retry' (failed, will retry) or 'failed'."""
    config = AlertSettings(max_delivery_attempts=1 if "failed" in outcomes else 5)
    deliveries = tuple(
        delivered(d, NOW) if outcome == "sent" else attempt_failed(d, "connection refused", NOW, config)
        for d, outcome in zip(record.deliveries, outcomes, strict=True))
    return with_deliveries(record, deliveries)


def test_a_new_record_is_pending_on_every_channel_and_due_now() -> None:
    record = new_record(RULE, article(), NOW)
    assert record.id == alert_id_for("rates", "s1")
    assert record.status == "pending"
    assert record.next_attempt_at == NOW
    assert [d.channel for d in record.deliveries] == list(RULE.channels)


def test_an_article_not_clustered_is_a_story_of_its_own() -> None:
    assert new_record(RULE, article(story_id=""), NOW).story_id == "a1"


def test_status_is_pending_while_any_channel_may_be_tried_then_failed_if_any_gave_up() -> None:
    record = new_record(RULE, article(), NOW)
    assert settled(record, "sent", "retry").status == "pending"
    assert settled(record, "sent", "failed").status == "failed"
    assert settled(record, "sent", "sent").status == "sent"


def test_records_made_in_one_pass_equal_records_made_one_by_one() -> None:
    make = NewRecords(NOW)
    first, second = article("a1", "s1"), article("a2", "s2")
    made = [make.make(RULE, first), make.make(RULE, second), make.make(RULE, first)]
    assert made == [new_record(RULE, first, NOW), new_record(RULE, second, NOW), new_record(RULE, first, NOW)]


def test_the_document_of_a_sent_alert_leaves_out_what_has_no_value() -> None:
    source = settled(new_record(RULE, article(), NOW), "sent", "sent").to_source()
    assert source["status"] == "sent"
    assert source["delivered_at"] == "2026-12-01T09:30:00Z"
    assert "next_attempt_at" not in source and "last_error" not in source
    assert None not in source.values()
    for delivery in source["deliveries"]:
        assert None not in delivery.values()
        assert "next_attempt_at" not in delivery and "last_error" not in delivery


def test_the_document_of_a_retried_alert_says_when_and_why() -> None:
    source = settled(new_record(RULE, article(), NOW), "sent", "retry").to_source()
    assert source["status"] == "pending"
    assert source["next_attempt_at"] > "2026-12-01T09:30:00Z"
    assert source["last_error"] == "connection refused"
    assert "delivered_at" not in source  # not every channel has it yet


def test_a_record_reads_back_from_its_document_unchanged() -> None:
    record = new_record(RULE, article(), NOW)
    for state in (record, settled(record, "sent", "sent"), settled(record, "sent", "retry"),
                  settled(record, "failed", "sent")):
        assert AlertRecord.from_source(state.to_source()) == state


EDIT = AlertRevision(id="r" * 32, number=2, previous_title="Rates rise",
                     previous_ingested_at="2026-12-01T08:00:00Z", replaced_at="2026-12-01T09:30:00Z",
                     title_changed=True, paragraphs_added=1, paragraphs_removed=0, paragraphs_edited=2)


def test_an_edit_alert_has_its_own_id_per_revision_and_reads_back_unchanged() -> None:
    plain = NewRecords(NOW).make(RULE, article())
    edit = NewRecords(NOW).make(RULE, article(), EDIT)
    other = NewRecords(NOW).make(RULE, article(), replace(EDIT, id="q" * 32))
    assert plain.id == alert_id_for("rates", "s1") and plain.revision is None
    assert edit.id == edit_alert_id_for("rates", "s1", EDIT.id) != other.id != plain.id
    assert edit.payload()["revision"] == EDIT.to_json() and "revision" not in plain.payload()
    for state in (edit, settled(edit, "sent", "retry")):
        assert AlertRecord.from_source(state.to_source()) == state


def test_an_edit_is_described_for_people_in_the_email_and_chat_message() -> None:
    assert EDIT.describe() == "edit 2: title changed, 1 paragraph added, 2 paragraphs reworded"
    assert replace(EDIT, title_changed=False, paragraphs_added=0, paragraphs_edited=0).describe() == (
        "edit 2: title and paragraphs unchanged")
    record = NewRecords(NOW).make(RULE, article(), EDIT)
    message = build_email("desk@example.org", [record], AlertSettings())
    assert message["Subject"] == "[newsflow] rates: edited: Rates rise (a1)"
    assert "edit 2: title changed, 1 paragraph added, 2 paragraphs reworded (was: Rates rise)" in (
        message.get_body().get_content())  # type: ignore[union-attr]
    assert "edit 2: title changed" in message_for(record, ("text",)).body
    plain = build_email("desk@example.org", [NewRecords(NOW).make(RULE, article())], AlertSettings())
    assert plain["Subject"] == "[newsflow] rates: Rates rise (a1)"
