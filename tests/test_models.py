"""The article model: stable ids, a content hash that ignores volatile fields, lossless storage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from newsflow.core.models import Article, Enclosure, TopicScore, article_id_for, parse_utc


def make_article(**changes: object) -> Article:
    base = Article(
        id=article_id_for("https://example-world.test/a"),
        url="https://example-world.test/a",
        title="Central bank holds rates",
        summary="The bank kept rates unchanged.",
        body="First paragraph.\n\nSecond paragraph.",
        source="Example World",
        feed_url="https://example-world.test/feed.xml",
        published_at=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        ingested_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        language="en",
        authors=("Ana Ruiz",),
        categories=("Economy",),
        enclosures=(Enclosure(url="https://example-world.test/a.jpg", type="image/jpeg", length=1234),),
        persons=("Maria Lindqvist",),
        organizations=("European Central Bank",),
        locations=("Germany",),
        topics=("economy, business and finance",),
        topic_scores=(TopicScore("economy, business and finance", 0.91, "medtop:04000000"),),
        story_id="s1",
        story_signature=(1, 2, 3),
        story_bands=("b0:abc",),
        enrichment_version="test-1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_id_depends_only_on_the_canonical_url() -> None:
    assert article_id_for("https://example-world.test/a") == article_id_for("https://example-world.test/a")
    assert article_id_for("https://example-world.test/a") != article_id_for("https://example-world.test/b")


def test_the_content_hash_ignores_fetch_time_and_enrichment() -> None:
    article = make_article()
    refetched = replace(article, ingested_at=article.ingested_at + timedelta(hours=5),
                        persons=(), topics=(), story_id="other", enrichment_version="test-2")
    assert refetched.content_hash == article.content_hash


def test_the_content_hash_changes_when_a_reader_would_see_a_change() -> None:
    article = make_article()
    assert replace(article, title="Central bank raises rates").content_hash != article.content_hash
    assert replace(article, body=article.body + "\n\nCorrection.").content_hash != article.content_hash


def test_a_document_round_trips_to_an_equal_article() -> None:
    article = make_article()
    document = article.to_document()
    assert document["published_at"] == "2026-11-25T09:30:00Z"
    assert document["content_hash"] == article.content_hash
    assert Article.from_document(article.id, document) == article


def test_documents_use_the_contract_field_names() -> None:
    document = make_article().to_document()
    contract_fields = {"title", "summary", "body", "url", "source", "feed_url", "published_at",
                       "ingested_at", "language", "authors", "categories", "persons", "organizations",
                       "locations", "topics", "story_id"}
    assert contract_fields <= set(document)


def test_timestamps_are_read_back_as_utc() -> None:
    assert parse_utc("2026-11-25T10:30:00+01:00") == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    assert parse_utc("2026-11-25T09:30:00").tzinfo == UTC
    assert parse_utc(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))).hour == 22


def test_the_content_hash_is_computed_once_and_carried_to_enriched_copies(monkeypatch: Any) -> None:
    from newsflow.core import models

    calls: list[str] = []

    def counting(article: Article) -> str:
        calls.append(article.url)
        return original(article)

    original = models.content_hash_of
    monkeypatch.setattr(models, "content_hash_of", counting)
    article = make_article()
    first = article.content_hash
    enriched = replace(article, persons=("Ana Ruiz",), topics=(), story_id="s2", extra={"k": 1})
    assert enriched.content_hash == article.content_hash == first
    assert enriched.to_document()["content_hash"] == first
    assert len(calls) == 1
    # A replaced content field is a new value: its hash is computed afresh, and is the fresh one.
    edited = replace(enriched, body=enriched.body + "\n\nCorrection.")
    assert edited.content_hash == original(edited) != first
    redated = replace(article, published_at=article.published_at + timedelta(minutes=1))
    assert redated.content_hash == original(redated) != first
    assert len(calls) == 3  # once per content


def test_an_equal_value_in_a_content_field_gives_the_same_hash() -> None:
    article = make_article()
    copy = replace(article, title="".join(article.title))  # equal, possibly another object
    assert copy.content_hash == article.content_hash
