"""Ownership in real cycles (local feed server, real Elasticsearch, real spaCy model): a second
publisher's feed carrying another publisher's link never overwrites that article, and an undated
item polled again is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

import pytest
from elasticsearch import NotFoundError

from ingest.dedupe import copy_id
from ingest.types import FeedSpec
from newsflow.app.cycle import Pipeline
from newsflow.core.es import make_client
from newsflow.core.models import article_id_for
from tests.alerts.test_cycle import WIRE_STORY
from tests.support.feedserver import FeedServer, Response

pytestmark = [pytest.mark.es, pytest.mark.slow]

URL = "https://publisher.example/2024/ecb-rates"


def rss(title: str, items: list[tuple[str, str, list[str], datetime | None]]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        + (f"<pubDate>{format_datetime(published)}</pubDate>" if published else "")
        + f"<description>{escape(chr(10).join(f'<p>{p}</p>' for p in paragraphs))}</description></item>"
        for t, link, paragraphs, published in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>https://example.com/</link>{entries}</channel></rss>").encode()


def cycle(settings: Any, *specs: FeedSpec) -> Any:
    pipeline = Pipeline(settings)
    try:
        return pipeline.ingest(list(specs))
    finally:
        pipeline.close()


def stored(settings: Any, doc_id: str) -> dict[str, Any]:
    client = make_client(settings)
    try:
        client.indices.refresh(index=settings.index_name("articles"))
        return dict(client.get(index=settings.index_name("articles"), id=doc_id)["_source"])
    except NotFoundError as exc:
        raise AssertionError(f"article {doc_id} is not stored: {exc}") from exc
    finally:
        client.close()


@pytest.fixture
def cycle_settings(make_settings: Callable[..., Any]) -> Any:
    return make_settings(fetch={"politeness_delay": 0.0}, enrich={"n_process": 1})


def test_an_impostor_feed_carrying_the_same_link_gets_its_own_copy_in_the_same_story(
        cycle_settings: Any, feed_server: FeedServer) -> None:
    published = datetime.now(UTC) - timedelta(hours=1)
    owner_url = feed_server.route("/owner.xml", Response(body=rss("Owner", [
        ("ECB raises interest rates again", URL, WIRE_STORY, published)])))
    # Another host (the same server by another name): another publisher.
    impostor_url = feed_server.route("/impostor.xml", Response(body=rss("Impostor", [
        ("FAKE headline", URL, WIRE_STORY[:3], published)]))).replace("127.0.0.1", "localhost")
    owner = FeedSpec(url=owner_url, name="Owner Daily")
    impostor = FeedSpec(url=impostor_url, name="Impostor")

    first = cycle(cycle_settings, owner)
    assert (first.new, first.indexed) == (1, 1)
    second = cycle(cycle_settings, owner, impostor)
    assert (second.new, second.updated, second.unchanged) == (1, 0, 1)

    original = stored(cycle_settings, article_id_for(URL))
    assert (original["title"], original["source"], original["feed_url"]) == (
        "ECB raises interest rates again", "Owner Daily", owner_url)
    copy = stored(cycle_settings, copy_id(URL, impostor_url))
    assert (copy["title"], copy["source"], copy["feed_url"], copy["url"]) == (
        "FAKE headline", "Impostor", impostor_url, URL)
    assert copy["story_id"] == original["story_id"] == article_id_for(URL)

    # Polled again, nothing changes: neither copy overwrites the other.
    third = cycle(cycle_settings, impostor, owner)
    assert (third.new, third.updated, third.unchanged) == (0, 0, 2)
    assert stored(cycle_settings, article_id_for(URL))["title"] == "ECB raises interest rates again"


def test_an_undated_item_keeps_its_first_seen_time_and_is_unchanged_when_polled_again(
        cycle_settings: Any, feed_server: FeedServer) -> None:
    link = "https://publisher.example/undated"
    url = feed_server.route("/undated.xml", Response(body=rss("Undated", [
        ("A story without a date", link, WIRE_STORY[:2], None)])))
    first = cycle(cycle_settings, FeedSpec(url=url))
    assert first.new == 1
    first_seen = stored(cycle_settings, article_id_for(link))["published_at"]

    second = cycle(cycle_settings, FeedSpec(url=url))
    assert (second.new, second.updated, second.unchanged) == (0, 0, 1)
    assert stored(cycle_settings, article_id_for(link))["published_at"] == first_seen
