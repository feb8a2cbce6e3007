"""Articles for the index tests, built in the test (the sample feeds have their own test)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from newsflow.core.models import Article, article_id_for


def build_article(slug: str, **fields: Any) -> Article:
    """An Article with sensible defaults; keyword arguments override fields."""
    url = fields.pop("url", f"https://news.example.org/{slug}")
    published = fields.pop("published_at", datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    values: dict[str, Any] = {
        "id": article_id_for(url),
        "url": url,
        "title": f"Article {slug}",
        "summary": f"Summary of {slug}.",
        "body": f"Body of article {slug}.",
        "source": "Example News",
        "feed_url": "https://news.example.org/feed.xml",
        "published_at": published,
        "ingested_at": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        "language": "en",
    }
    values.update(fields)
    return Article(**values)
