"""Feed state is read and written in batches: a cycle's requests to the feeds index do not grow with
the number of feeds (issue 19: 10,000 feeds on one machine).

Every request the cycles send to the real Elasticsearch is recorded (the client's transport,
wrapped, as in tests/test_cycle_setup.py). The same cycles over 20 and over 500 feeds (local feed
files: no politeness delay to wait out) send the same small number of feed-state requests: a cold
cycle, a no-change cycle and a `--due` plan. The states of feeds that brought no articles are
written while the poll is still running (newsflow.app.cycle._EarlyStates).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest.types import FeedSpec
from newsflow.app.cycle import Pipeline
from newsflow.core.es import make_client
from newsflow.core.models import utc_now
from tests.conftest import SAMPLES

pytestmark = pytest.mark.es

_BOUND = 6  # per cycle: an existence check, the mget(s) and the bulk(s), whatever the feed count


class Recorded:
    """A real client whose every request to the feeds index (or bulk naming it) is recorded."""

    def __init__(self, settings: Any) -> None:
        self.client = make_client(settings)
        self.feeds_index = settings.index_name("feeds")
        self.sent: list[tuple[str, str]] = []
        send = self.client.transport.perform_request

        def record(method: str, target: str, **kwargs: Any) -> Any:
            body = kwargs.get("body")
            first = body[0] if isinstance(body, list | tuple) and body else b""
            text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
            path = target.partition("?")[0]
            if self.feeds_index in path or (path.endswith("/_bulk") and self.feeds_index in text):
                self.sent.append((method, path))
            return send(method, target, **kwargs)

        self.client.transport.perform_request = record  # type: ignore[method-assign]  # shared by options() copies

    def take(self) -> list[tuple[str, str]]:
        sent, self.sent = self.sent, []
        return sent


def _feeds(folder: Path, count: int) -> list[FeedSpec]:
    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for n in range(count):
        path = folder / f"feed{n}.xml"
        path.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
                        f'<link>https://example.org/{n}</link><description>none</description>'
                        '</channel></rss>', encoding="utf-8")
        specs.append(FeedSpec(url=str(path)))
    return specs


def _cycles(settings: Any, specs: list[FeedSpec]) -> dict[str, list[tuple[str, str]]]:
    recorded = Recorded(settings)
    counts: dict[str, list[tuple[str, str]]] = {}
    try:
        with Pipeline(settings, client=recorded.client) as pipeline:
            pipeline._ensure_indices()
            recorded.take()  # set-up is not a cycle's cost
            cold = pipeline.run(specs)
            counts["cold"] = recorded.take()
            assert cold.fetched == len(specs) and cold.problems == ()
            again = pipeline.run(specs)
            counts["no-change"] = recorded.take()
            assert again.not_modified == len(specs) and again.problems == ()
            stored = pipeline.stores.feed_states().load(s.key for s in specs)
            assert len(stored) == len(specs)
            assert all(s.last_status == "not_modified" for s in stored.values())
            due = pipeline.select_due(specs, now=utc_now() + timedelta(days=2))  # every feed due
            assert len(due) == len(specs)
            counts["due plan"] = recorded.take()
    finally:
        recorded.client.close()
    return counts


@pytest.fixture
def two_sizes(make_settings: Callable[..., Any], tmp_path: Path) -> Iterator[dict[int, Any]]:
    yield {count: _cycles(make_settings(), _feeds(tmp_path / str(count), count)) for count in (20, 500)}


def test_feed_state_requests_do_not_grow_with_the_number_of_feeds(two_sizes: dict[int, Any]) -> None:
    small, large = two_sizes[20], two_sizes[500]
    for cycle in ("cold", "no-change", "due plan"):
        assert 0 < len(large[cycle]) <= _BOUND, (cycle, large[cycle])
        assert len(large[cycle]) == len(small[cycle]), (cycle, small[cycle], large[cycle])
    # Reads by mget and writes by bulk, never one document request per feed.
    every = [request for cycle in large.values() for request in cycle]
    assert any(path.endswith("/_mget") for _, path in every)
    assert any(path.endswith("/_bulk") for _, path in every)
    assert not any("/_doc/" in path or "/_update/" in path for _, path in every)


def test_states_of_feeds_without_articles_are_saved_during_the_poll(
        settings: Any, tmp_path: Path) -> None:
    """500 feeds that bring no articles have their states in Elasticsearch before the poll ends (one
    bulk, from the writer thread); a feed with articles only after its articles are indexed."""
    from ingest.poll import poll_feeds
    from ingest.state import FeedStateStore

    empty = _feeds(tmp_path / "empty", 500)
    with_items = FeedSpec(url=str(SAMPLES / "feeds" / "world.xml"))
    specs = [with_items, *empty]
    seen_during_poll: dict[str, Any] = {}
    store = FeedStateStore(make_client(settings), settings)

    def poll(specs: Any, states: Any, settings: Any, *, on_result: Any) -> Any:
        results = poll_feeds(specs, states, settings, on_result=on_result)
        deadline = time.monotonic() + 30  # the writer thread's bulk may still be on its way
        while time.monotonic() < deadline:
            seen_during_poll.update(store.load(s.key for s in specs))
            if all(s.key in seen_during_poll for s in empty):
                break
            time.sleep(0.2)
        return results

    try:
        with Pipeline(settings) as pipeline:
            report = pipeline.ingest(specs, poll=poll)
        assert report.fetched == 501 and report.indexed > 0 and report.problems == ()
        assert all(s.key in seen_during_poll for s in empty)
        assert with_items.key not in seen_during_poll  # saved only once its articles were indexed
        stored = store.load(s.key for s in specs)
        assert len(stored) == 501 and stored[with_items.key].articles_total == report.new
    finally:
        store.client.close()
