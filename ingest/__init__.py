"""The ingest stage: feeds file -> polite fetch -> parse -> normalise -> dedupe decisions.

Public entry points (the cycle, the CLI and the DAGs call these; each is also `ingest.<name>`):
- `load_feeds(path)` (ingest.feeds): the feeds file (YAML or OPML) as FeedSpecs.
- `select_due(specs, states, now)` (ingest.schedule): the feeds whose next poll time has come.
- `poll_feeds(specs, states, settings, now=..., on_result=...)` (ingest.poll): one FeedResult per feed.
- `unique_per_publisher(articles)`, `classify(articles, stored)` (ingest.dedupe): ownership.
- `FeedStateStore(client, settings)` (ingest.state): feed state in `<prefix>-feeds`.
- the types `FeedSpec`, `FeedState`, `FeedResult` (ingest.types), `ParsedFeed`, `ParsedEntry`
  (ingest.parse), and `parse_feed`, `normalise_feed`, `canonical_url` for one feed's bytes.
- Benchmarks: `newsflow.dev.bench_ingest.parse_throughput(paths)`; full-text quality:
  `python -m newsflow.dev.fulltext_eval`.

Inside: `fetch` (HTTP, limits, address policy via `addresses`), `parse` (feedparser + JSON Feed),
`normalise` (entries into Articles, using `text` and `urls`), `fulltext` (optional page extraction).
Nothing heavy is imported here: the names above are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.dedupe import Classification, StoredArticle, classify, unique_per_publisher
    from ingest.feeds import load_feeds
    from ingest.normalise import normalise_feed
    from ingest.parse import ParsedEntry, ParsedFeed, parse_feed
    from ingest.poll import poll_feeds
    from ingest.schedule import select_due
    from ingest.state import FeedStateStore
    from ingest.types import FeedAuth, FeedHeader, FeedResult, FeedSpec, FeedState, FeedStatus
    from ingest.urls import canonical_url

__all__ = [
    "Classification",
    "FeedAuth",
    "FeedHeader",
    "FeedResult",
    "FeedSpec",
    "FeedState",
    "FeedStateStore",
    "FeedStatus",
    "ParsedEntry",
    "ParsedFeed",
    "StoredArticle",
    "canonical_url",
    "classify",
    "load_feeds",
    "normalise_feed",
    "parse_feed",
    "poll_feeds",
    "select_due",
    "unique_per_publisher",
]

if not TYPE_CHECKING:
    from newsflow.core._exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {
        "ingest.dedupe": ["Classification", "StoredArticle", "classify", "unique_per_publisher"],
        "ingest.feeds": ["load_feeds"],
        "ingest.normalise": ["normalise_feed"],
        "ingest.parse": ["ParsedEntry", "ParsedFeed", "parse_feed"],
        "ingest.poll": ["poll_feeds"],
        "ingest.schedule": ["select_due"],
        "ingest.state": ["FeedStateStore"],
        "ingest.types": ["FeedAuth", "FeedHeader", "FeedResult", "FeedSpec", "FeedState", "FeedStatus"],
        "ingest.urls": ["canonical_url"],
    })
