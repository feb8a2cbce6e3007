"""Stored feed states that a bug, an older version or a manual edit left absurd: loading them
never crashes a later cycle, and what was repaired is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingest.schedule import failure_delay, next_due
from ingest.state import MAX_STORED_FAILURES, state_from_document, state_to_document
from ingest.types import FeedSpec, FeedState, feed_key
from newsflow.core.settings import FetchSettings

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
URL = "https://e.com/feed.xml"


def test_a_sound_state_loads_unchanged_and_quietly(caplog: pytest.LogCaptureFixture) -> None:
    state = FeedState(key=feed_key(URL), url=URL, consecutive_failures=3, next_due_at=NOW,
                      recent_item_times=(NOW, NOW - timedelta(hours=1)), declared_interval=3600.0)
    with caplog.at_level(logging.WARNING):
        assert state_from_document(state_to_document(state), now=NOW) == state
    assert not caplog.records


@pytest.mark.parametrize(("field", "value", "loaded"), [
    ("consecutive_failures", 10**11, MAX_STORED_FAILURES),
    ("consecutive_failures", 1e300, MAX_STORED_FAILURES),
    ("consecutive_failures", "many", 0),
    ("consecutive_failures", -4, 0),
    ("consecutive_failures", float("nan"), 0),
    ("item_count", [1, 2], 0),
    ("declared_interval", "abc", None),
    ("declared_interval", 1e308, 366 * 86400.0),
    ("declared_interval", "3600", 3600.0),
    ("gone", "false", False),
    ("next_due_at", "+275760-09-13T00:00:00Z", None),
    ("next_due_at", "5195-01-01T00:00:00Z", None),  # where 1e11 failures used to put it: due now
    ("next_due_at", 17, None),
    ("last_fetched_at", "yesterday", None),
    ("recent_item_times", ["2024-03-10T11:00:00Z", "garbage", "99999-01-01T00:00:00Z", None],
     (NOW - timedelta(hours=1),)),
    ("title", {"nested": "object"}, ""),
    ("etag", 42, "42"),
])
def test_absurd_or_wrong_typed_values_are_sanitised_on_load_with_a_log_line(
        field: str, value: Any, loaded: Any, caplog: pytest.LogCaptureFixture) -> None:
    doc = {**state_to_document(FeedState(key=feed_key(URL), url=URL)), field: value}
    with caplog.at_level(logging.WARNING, logger="ingest.state"):
        state = state_from_document(doc, now=NOW)
    assert getattr(state, field) == loaded
    assert field in caplog.text and feed_key(URL) in caplog.text
    # The state drives a later cycle without an exception, and its next poll is sane.
    delay = failure_delay(FeedSpec(url=URL), state.consecutive_failures + 1, FetchSettings(), None)
    assert NOW < next_due(NOW, delay) <= NOW + timedelta(days=1)


def test_a_document_missing_every_field_loads_with_defaults() -> None:
    state = state_from_document({}, "abc123", now=NOW)
    assert state == FeedState(key="abc123", url="")
