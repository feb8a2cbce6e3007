"""Elasticsearch outages: a cycle that cannot reach Elasticsearch keeps its articles in the spool,
reports them, and the first cycle after recovery indexes every one of them once, even when the
feeds no longer carry those items. Uses a second, dedicated local node so stopping it disturbs no
other test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsflow.app.cycle import Pipeline
from newsflow.core.settings import default_home, load_settings
from newsflow.dev.stack import LocalElasticsearch
from newsflow.index.cleanup import delete_prefix
from tests.support.corpus_feeds import build_feeds, rss
from tests.support.feedserver import FeedServer, Response

pytestmark = [pytest.mark.slow]
OUTAGE_PORT = 9291


@pytest.fixture(scope="module")
def second_node(es_url: str) -> Iterator[LocalElasticsearch]:
    """A node of its own on another port, sharing the installed distribution."""
    home = default_home()
    node_dir = home / "test-nodes" / uuid.uuid4().hex[:8]
    node_dir.mkdir(parents=True)
    stack = LocalElasticsearch(load_settings(home=home, es_url=f"http://127.0.0.1:{OUTAGE_PORT}"),
                               node_dir=node_dir, heap="256m")
    stack.up()
    yield stack
    stack.down()
    shutil.rmtree(node_dir, ignore_errors=True)


class StopNodeBeforeIndexing:
    """A CycleObserver that stops the node when the cycle reaches the index stage: an outage that
    begins in the middle of a cycle, after fetching and enrichment."""

    def __init__(self, node: LocalElasticsearch) -> None:
        self.node = node

    def stage(self, name: str, total: int | None = None) -> None:
        if name == "index":
            self.node.down()

    def advance(self, name: str, amount: int = 1) -> None:
        pass


def test_articles_survive_an_outage_that_starts_mid_cycle(second_node: LocalElasticsearch,
                                                          tmp_path: Path) -> None:
    settings = load_settings(es_url=second_node.url, index_prefix=f"outage{uuid.uuid4().hex[:6]}",
                             home=tmp_path)
    settings = replace_fetch(settings)
    feeds = build_feeds(n_feeds=2, items_per_feed=10, syndicated=2)
    with FeedServer() as server:
        for name, body in feeds.items():
            server.route(name, Response(body=body))
        from ingest.feeds import load_feeds

        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text("feeds:\n" + "".join(f"  - url: {server.url(n)}\n" for n in feeds))
        specs = load_feeds(feeds_file)

        pipeline = Pipeline(settings)
        during = pipeline.ingest(specs, StopNodeBeforeIndexing(second_node))
        pipeline.close()
        assert during.indexed == 0
        assert during.spooled == 22
        assert during.problems and "unreachable" in during.problems[0]

        # While it is down, another cycle also spools (and says so), losing nothing.
        pipeline = Pipeline(settings)
        still_down = pipeline.ingest(specs)
        pipeline.close()
        assert still_down.spooled == 22 and still_down.indexed == 0

        # The feeds move on: the outage's items are gone from them when the node is back.
        for name in feeds:
            server.route(name, Response(body=rss(name, [])))
        second_node.up()
        pipeline = Pipeline(settings)
        after = pipeline.ingest(specs)
        assert after.problems == ()
        assert after.indexed == 22 and after.from_spool == 22 and after.spooled == 0
        client = pipeline.client
        alias = settings.index_name("articles")
        client.indices.refresh(index=alias)
        assert client.count(index=alias)["count"] == 22
        again = pipeline.ingest(specs)
        assert again.indexed == 0 and again.spooled == 0
        client.indices.refresh(index=alias)
        assert client.count(index=alias)["count"] == 22
        delete_prefix(client, settings.index_prefix)
        pipeline.close()


def replace_fetch(settings: Any) -> Any:
    # The feed server listens on 127.0.0.1: opt in to private addresses.
    fetch = settings.fetch.model_copy(update={"politeness_delay": 0.0, "allow_private_addresses": True})
    return settings.model_copy(update={"fetch": fetch})


