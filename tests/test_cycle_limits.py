"""Limits of the cycle when Elasticsearch is unreachable: a full spool is reported, not a crash, and
nothing is lost because the feed state is not advanced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsflow.app.cycle import Pipeline
from newsflow.core.settings import load_settings
from tests.conftest import OPT_IN_FETCH
from tests.support.corpus_feeds import build_feeds
from tests.support.feedserver import FeedServer, Response


def test_a_full_spool_is_reported_and_the_cycle_still_ends(tmp_path: Path) -> None:
    settings: Any = load_settings(es_url="http://127.0.0.1:9", index_prefix="full", home=tmp_path,
                                  fetch=OPT_IN_FETCH)  # the feed server listens on 127.0.0.1
    small_spool = settings.index.model_copy(update={"spool_max_bytes": 2000})
    settings = settings.model_copy(update={"index": small_spool})
    feeds = build_feeds(n_feeds=1, items_per_feed=5, syndicated=0)
    with FeedServer() as server:
        server.route("feed0.xml", Response(body=feeds["feed0.xml"]))
        from ingest.types import FeedSpec

        pipeline = Pipeline(settings)
        report = pipeline.ingest([FeedSpec(url=server.url("feed0.xml"))])
        pipeline.close()
    assert report.fetched == 1 and report.indexed == 0 and report.spooled == 0
    assert any("spool" in problem and "full" in problem for problem in report.problems)
    assert any("fetched again" in problem for problem in report.problems)
