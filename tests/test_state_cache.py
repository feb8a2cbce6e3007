"""The local feed-state cache: newest copy wins, crash-safe, and a corrupt file never stops a cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.types import FeedState
from newsflow.app.state_cache import FeedStateCache, cache_path, reconcile

EARLY = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def state(key: str, fetched: datetime | None, etag: str = "") -> FeedState:
    return FeedState(key=key, url=f"https://example.org/{key}.xml", etag=etag, last_fetched_at=fetched,
                     next_due_at=fetched + timedelta(minutes=30) if fetched else None)


def test_states_come_back_from_the_cache_equal(offline_settings: Any) -> None:
    cache = FeedStateCache(offline_settings)
    saved = replace(state("a", EARLY, etag='"v1"'), recent_item_times=(EARLY,), declared_interval=600.0)
    cache.save([saved, state("b", None)])

    assert FeedStateCache(offline_settings).load(["a", "b", "missing"]) == {"a": saved, "b": state("b", None)}


def test_an_older_state_does_not_replace_a_newer_cached_one(offline_settings: Any) -> None:
    cache = FeedStateCache(offline_settings)
    newer = state("a", EARLY + timedelta(hours=1), etag='"v2"')
    cache.save([newer])
    cache.save([state("a", EARLY, etag='"v1"')])

    assert cache.load()["a"] == newer


def test_reconcile_keeps_the_newest_copy_and_names_what_elasticsearch_lacks() -> None:
    stored = {"a": state("a", EARLY + timedelta(hours=1)), "b": state("b", EARLY)}
    cached = {"a": state("a", EARLY), "b": state("b", EARLY + timedelta(hours=2)), "c": state("c", EARLY),
              "same": state("same", EARLY)}
    stored["same"] = state("same", EARLY)

    merged, behind = reconcile(stored, cached)

    assert merged == {"a": stored["a"], "b": cached["b"], "c": cached["c"], "same": stored["same"]}
    assert sorted(s.key for s in behind) == ["b", "c"]


def test_a_corrupt_cache_is_moved_aside_and_read_as_empty(offline_settings: Any) -> None:
    path: Path = cache_path(offline_settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"a": {"key": "a", "url": ')

    cache = FeedStateCache(offline_settings)
    assert cache.load() == {}
    assert not path.exists() and list(path.parent.glob(f"{path.name}.corrupt-*"))
    cache.save([state("a", EARLY)])
    assert cache.load() == {"a": state("a", EARLY)}


def test_a_cached_state_with_broken_fields_is_repaired_not_fatal(offline_settings: Any) -> None:
    path = cache_path(offline_settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"bad": {"url": "no key"}, "dated": {"key": "dated", "url": "u", '
                    '"last_fetched_at": "not a date"}}')
    FeedStateCache(offline_settings).save([state("good", EARLY)])

    loaded = FeedStateCache(offline_settings).load()
    assert loaded["good"] == state("good", EARLY)
    # Sanitised as a state read from Elasticsearch is: the key from where it is filed, a date that
    # cannot be read dropped (so the feed is due), never an exception that stops the cycle.
    assert (loaded["bad"].key, loaded["bad"].url) == ("bad", "no key")
    assert loaded["dated"].last_fetched_at is None
