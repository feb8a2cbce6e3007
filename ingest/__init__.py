"""The ingest stage: feeds file -> polite fetch -> parse -> normalise -> dedupe decisions.

Public entry points (the cycle, the CLI and the DAGs call these):
- `ingest.feeds.load_feeds(path)`: the feeds file (YAML or OPML) as FeedSpecs.
- `ingest.schedule.select_due(specs, states, now)`: the feeds whose next poll time has come.
- `ingest.poll.poll_feeds(specs, states, settings, now=..., on_result=...)`: one FeedResult per feed.
- `ingest.dedupe.unique_per_publisher(articles)`, `ingest.dedupe.classify(articles, stored)`: ownership.
- `ingest.state.FeedStateStore(client, settings)`: feed state in `<prefix>-feeds`.
- Benchmarks: `newsflow.dev.bench_ingest.parse_throughput(paths)`; full-text quality:
  `python -m newsflow.dev.fulltext_eval`.

Inside: `fetch` (HTTP, limits, address policy via `addresses`), `parse` (feedparser + JSON Feed),
`normalise` (entries into Articles, using `text` and `urls`), `fulltext` (optional page extraction).
Nothing heavy is imported here.
"""
