"""Golden files: a feed in tests/ingest/golden/ and the articles it must give, as JSON beside it.

Regenerate after a deliberate change with `.venv/bin/python -m tests.ingest.golden_support` and review
the diff: the JSON is the specification.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.normalise import normalise_feed
from ingest.parse import parse_feed
from ingest.types import FeedSpec

GOLDEN = Path(__file__).resolve().parent / "golden"
FETCHED_AT = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
# feed file -> the URL it is served from in the golden scenario
CASES = {
    "world.rss.xml": "https://news.example.com/feeds/world.xml",
    "tech.json": "https://tech.example.org/feed.json",
}
FIELDS = ("url", "title", "summary", "body", "source", "feed_url", "published_at", "ingested_at",
          "language", "authors", "categories", "enclosures", "guid")


def articles_as_json(name: str) -> list[dict[str, Any]]:
    url = CASES[name]
    spec = FeedSpec(url=url)
    feed = parse_feed((GOLDEN / name).read_bytes(), url=url)
    articles, _ = normalise_feed(spec, feed, url, FETCHED_AT)
    return [{"id": a.id, **{k: v for k, v in a.to_document().items() if k in FIELDS}} for a in articles]


def expected_path(name: str) -> Path:
    return GOLDEN / (name.rsplit(".", 1)[0] + ".expected.json")


if __name__ == "__main__":
    for case in CASES:
        expected_path(case).write_text(
            json.dumps(articles_as_json(case), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
