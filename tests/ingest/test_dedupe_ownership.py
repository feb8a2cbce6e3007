"""Ownership of an article id (pure decisions): only the publisher that first carried a URL updates
its article; another publisher's copy is an article of its own; undated items keep their first date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.dedupe import (
    StoredArticle,
    classify,
    copy_id,
    lookup_ids,
    publisher,
    unique_per_publisher,
)
from newsflow.core.models import Article, article_id_for

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
DATED = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
URL = "https://news.example/2024/03/10/story"
OWNER_FEED = "https://news.example/world.xml"
SECTION_FEED = "https://news.example/politics.xml"
IMPOSTOR_FEED = "https://impostor.example/feed.xml"


def article(feed_url: str, title: str = "Real headline", *, published: datetime = DATED,
            fetched: datetime = NOW, body: str = "Body text.") -> Article:
    return Article(id=article_id_for(URL), url=URL, title=title, summary="", body=body, source=feed_url,
                   feed_url=feed_url, published_at=published, ingested_at=fetched)


def stored(*articles: Article) -> dict[str, StoredArticle]:
    return {a.id: StoredArticle(a.content_hash, a.feed_url, a.published_at) for a in articles}


def test_another_publishers_copy_of_a_stored_url_becomes_an_article_of_its_own() -> None:
    original = article(OWNER_FEED)
    impostor = article(IMPOSTOR_FEED, "FAKE headline")
    result = classify([impostor], stored(original))
    [copy] = result.new
    assert copy.id == copy_id(URL, IMPOSTOR_FEED) != original.id
    assert (copy.title, copy.url, copy.feed_url) == ("FAKE headline", URL, IMPOSTOR_FEED)
    assert result.updated == () and result.copies == 1
    # Polled again: the copy is matched against its own stored version, never the original.
    again = classify([impostor], stored(original, copy))
    assert [a.id for a in again.unchanged] == [copy.id] and again.new == again.updated == ()


def test_the_owner_and_its_section_feeds_update_the_article_in_place() -> None:
    original = article(OWNER_FEED)
    for feed in (OWNER_FEED, SECTION_FEED):
        edited = article(feed, "Corrected headline")
        result = classify([edited], stored(original))
        assert [a.id for a in result.updated] == [original.id] and result.copies == 0
    assert classify([article(SECTION_FEED)], stored(original)).unchanged  # same content


def test_within_one_batch_the_first_publisher_owns_the_url_and_section_feeds_give_one_article() -> None:
    owner, section, impostor = article(OWNER_FEED), article(SECTION_FEED, body="A longer body."), \
        article(IMPOSTOR_FEED, "FAKE headline")
    batch = unique_per_publisher([owner, section, impostor])
    assert batch == [section, impostor]  # one per publisher: the richest of the section feeds' copies
    result = classify(batch, {})
    assert [a.id for a in result.new] == [owner.id, copy_id(URL, IMPOSTOR_FEED)]
    assert result.new[0].title == "Real headline"


def test_the_lookup_covers_each_articles_own_id_and_its_copy_id() -> None:
    assert lookup_ids([article(IMPOSTOR_FEED)]) == [article_id_for(URL), copy_id(URL, IMPOSTOR_FEED)]


def test_publishers_are_hosts_or_for_local_files_the_feed_itself() -> None:
    assert publisher("https://News.Example:443/a.xml") == publisher("http://news.example/b.xml")
    assert publisher("/srv/feeds/a.xml") != publisher("/srv/feeds/b.xml")


def test_an_undated_item_keeps_its_first_seen_time_and_is_unchanged_when_polled_again() -> None:
    first = article(OWNER_FEED, published=NOW, fetched=NOW)  # no date: dated at the fetch time
    later = NOW + timedelta(hours=2)
    result = classify([article(OWNER_FEED, published=later, fetched=later)], stored(first))
    [kept] = result.unchanged
    assert kept.published_at == NOW and result.updated == ()
    # Edited: updated, still with its first-seen time.
    edited = classify([article(OWNER_FEED, "New title", published=later, fetched=later)], stored(first))
    assert [a.published_at for a in edited.updated] == [NOW]


def test_a_dated_item_whose_date_changes_is_updated() -> None:
    first = article(OWNER_FEED)
    redated = article(OWNER_FEED, published=DATED + timedelta(hours=1))
    assert classify([redated], stored(first)).updated == (redated,)
