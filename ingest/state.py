"""Feed state in Elasticsearch (`<prefix>-feeds`), so any worker can poll any feed.

One document per feed, id = feed key. The mapping is strict: a field that is not a FeedState
field is refused rather than silently added.

A stored state is sanitised on load (one WARNING line per feed naming the fields): a missing
field takes its default, a number of the wrong type or out of range is clamped
(consecutive_failures to MAX_STORED_FAILURES), a date that cannot be read (or is beyond datetime's
range) is dropped, a next poll more than a year ahead means due now. A manual edit or a bug of an
older version must not crash every later cycle.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers

from ingest.schedule import MAX_DELAY, RECENT_ITEMS, seconds_or_none
from ingest.types import FeedState
from newsflow.core.errors import IndexError_
from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)

MAX_STORED_FAILURES = 10_000  # past 64 the backoff is the ceiling anyway
_MAX_COUNT = 2**31 - 1  # the mapping's integer

_KEYWORD = {"type": "keyword", "ignore_above": 2048}
_DATES = ("last_fetched_at", "last_success_at", "next_due_at")
_FIELDS = tuple(f.name for f in fields(FeedState))  # every value a str, number, bool, date or tuple

FEEDS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "key": {"type": "keyword"},
        "url": _KEYWORD,
        "current_url": _KEYWORD,
        "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}},
        "etag": {"type": "keyword", "index": False},
        "last_modified": {"type": "keyword", "index": False},
        "last_fetched_at": {"type": "date"},
        "last_success_at": {"type": "date"},
        "last_status": {"type": "keyword"},
        "last_error": {"type": "text"},
        "consecutive_failures": {"type": "integer"},
        "next_due_at": {"type": "date"},
        "gone": {"type": "boolean"},
        "item_count": {"type": "integer"},
        "articles_total": {"type": "long"},
        "recent_item_times": {"type": "date"},
        "declared_interval": {"type": "float"},
    },
}


def state_to_document(state: FeedState) -> dict[str, Any]:
    # Field by field rather than dataclasses.asdict, which deep-copies every value: with 10,000
    # feeds a cycle builds 20,000 of these, and asdict was most of the feed-state stage's own time.
    doc = {name: getattr(state, name) for name in _FIELDS}
    for name in _DATES:
        doc[name] = _iso(doc[name])
    doc["recent_item_times"] = [_iso(t) for t in state.recent_item_times]
    return doc


def state_from_document(doc: Mapping[str, Any], doc_id: str = "", *,
                        now: datetime | None = None) -> FeedState:
    """The FeedState stored in `doc`, sanitised: never raises for a field's value (see the module
    docstring); what was repaired is logged."""
    reader = _Reader(doc)
    key = reader.text("key") or doc_id
    next_due_at = reader.date("next_due_at")
    if next_due_at is not None and next_due_at > (now or utc_now()) + timedelta(seconds=MAX_DELAY):
        reader.problems.append("next_due_at")
        next_due_at = None  # no schedule puts a poll that far ahead: due now
    state = FeedState(
        key=key,
        url=reader.text("url"),
        current_url=reader.text("current_url"),
        title=reader.text("title"),
        etag=reader.text("etag"),
        last_modified=reader.text("last_modified"),
        last_fetched_at=reader.date("last_fetched_at"),
        last_success_at=reader.date("last_success_at"),
        last_status=reader.text("last_status"),
        last_error=reader.text("last_error"),
        consecutive_failures=reader.count("consecutive_failures", MAX_STORED_FAILURES),
        next_due_at=next_due_at,
        gone=reader.flag("gone"),
        item_count=reader.count("item_count", _MAX_COUNT),
        articles_total=reader.count("articles_total", 2**63 - 1),
        recent_item_times=reader.dates("recent_item_times"),
        declared_interval=reader.seconds("declared_interval", MAX_DELAY),
    )
    if reader.problems:
        log.warning("feed state %s (%s): unusable stored values in %s were reset or clamped",
                    key, state.url, ", ".join(dict.fromkeys(reader.problems)))
    return state


class _Reader:
    """Reads the fields of one stored document, noting each one that had to be repaired."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc if isinstance(doc, Mapping) else {}
        self.problems: list[str] = []

    def text(self, name: str) -> str:
        value = self.doc.get(name)
        if value is None or isinstance(value, str):
            return value or ""
        self.problems.append(name)
        return "" if isinstance(value, dict | list) else str(value)

    def count(self, name: str, ceiling: int) -> int:
        value = self.doc.get(name)
        if value is None:
            return 0
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 20:
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and math.isnan(value)):
            self.problems.append(name)
            return 0
        if not 0 <= value <= ceiling:
            self.problems.append(name)
        return int(min(max(value, 0), ceiling))

    def flag(self, name: str) -> bool:
        value = self.doc.get(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        self.problems.append(name)
        return str(value).strip().lower() == "true"

    def seconds(self, name: str, ceiling: float) -> float | None:
        value = self.doc.get(name)
        if value is None:
            return None
        wrong_type = isinstance(value, str)
        if wrong_type:
            with contextlib.suppress(ValueError):
                value = float(value)
        seconds = seconds_or_none(value, ceiling=ceiling)
        if wrong_type or seconds is None or seconds != value:
            self.problems.append(name)
        return seconds or None

    def date(self, name: str) -> datetime | None:
        value = self.doc.get(name)
        if not value:
            return None
        parsed = _parse_date(value)
        if parsed is None:
            self.problems.append(name)
        return parsed

    def dates(self, name: str) -> tuple[datetime, ...]:
        values = self.doc.get(name) or ()
        if not isinstance(values, list | tuple):
            values = [values]
        parsed = [_parse_date(value) for value in values[:RECENT_ITEMS * 5]]
        kept = tuple(sorted({d for d in parsed if d is not None}, reverse=True)[:RECENT_ITEMS])
        if len(kept) != len(values):
            self.problems.append(name)
        return kept


def _parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str | datetime):
        return None
    try:  # "+275760-09-13T00:00:00Z" is a date to Elasticsearch, not to Python
        return parse_utc(value)
    except (ValueError, OverflowError, TypeError):
        return None


class FeedStateStore:
    """Load and save FeedStates in `settings.index_name("feeds")`."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name("feeds")
        self._url = settings.es_url_redacted
        self._ensured = False

    def ensure(self) -> None:
        """Create the feeds index with its strict mapping, or add fields a newer version introduced
        (idempotent)."""
        with translate_errors(self._url):
            if self.client.indices.exists(index=self.index):
                self.client.indices.put_mapping(index=self.index, properties=FEEDS_MAPPING["properties"])
            else:
                self._create()
        self._ensured = True

    def ensure_exists(self) -> None:
        """Create the feeds index if it is missing (no mapping upgrade: that is `ensure`, at setup)."""
        with translate_errors(self._url):
            if not self.client.indices.exists(index=self.index):
                self._create()
        self._ensured = True

    def _create(self) -> None:
        # Exists already: created meanwhile by another worker, which is fine.
        create_index(
            self.client, index=self.index, mappings=FEEDS_MAPPING,
            settings={"number_of_shards": 1,
                      "number_of_replicas": number_of_replicas(self.settings, self.client)},
        )

    def load(self, keys: Iterable[str]) -> dict[str, FeedState]:
        """The stored states of these feed keys (missing feeds are absent from the result)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        states: dict[str, FeedState] = {}
        with translate_errors(self._url):
            for start in range(0, len(wanted), 1000):
                response = self.client.options(ignore_status=404).mget(
                    index=self.index, ids=wanted[start:start + 1000])
                for doc in response.get("docs", []) if response else []:
                    if doc.get("found"):
                        states[doc["_id"]] = state_from_document(doc["_source"], doc["_id"])
        return states

    def load_all(self) -> list[FeedState]:
        """Every stored feed state (for the health view), ordered by URL."""
        with translate_errors(self._url):
            if not self.client.indices.exists(index=self.index):
                return []
            self.client.indices.refresh(index=self.index)
            hits = helpers.scan(self.client, index=self.index, query={"query": {"match_all": {}}})
            states = [state_from_document(hit["_source"], hit["_id"]) for hit in hits]
        return sorted(states, key=lambda s: s.url)

    def save(self, states: Iterable[FeedState]) -> None:
        """Store states (replacing earlier ones).

        articles_total is cumulative: the larger of the stored and the given value is kept, so either
        raise it in the state (stored + new) or call record_articles; it never goes back.
        """
        actions = []
        for state in states:
            doc = state_to_document(state)  # once: the script's parameter and the upsert are equal
            actions.append({"_op_type": "update", "_index": self.index, "_id": state.key,
                            "script": {"source": _SAVE_SCRIPT, "params": {"doc": doc}}, "upsert": doc})
        self._bulk(actions)

    def record_articles(self, counts: Mapping[str, int]) -> None:
        """Add `counts[key]` new articles to each feed's articles_total."""
        actions = [
            {"_op_type": "update", "_index": self.index, "_id": key,
             "script": {"source": "ctx._source.articles_total = "
                                  "(ctx._source.articles_total == null ? 0 : ctx._source.articles_total)"
                                  " + params.n", "params": {"n": int(count)}}}
            for key, count in counts.items() if count
        ]
        self._bulk(actions)

    def _bulk(self, actions: list[dict[str, Any]]) -> None:
        if not actions:
            return
        if not self._ensured:  # writes need the index (the cluster may refuse to auto-create it)
            self.ensure_exists()
        with translate_errors(self._url):
            # No refresh: load() reads by id (real-time) and load_all() refreshes first, so a cycle
            # does not wait up to a second for the index to refresh after saving its feed states.
            _, errors = helpers.bulk(self.client, actions, raise_on_error=False)
        failures = [e for e in errors if not _is_missing(e)] if isinstance(errors, list) else []
        if failures:
            raise IndexError_(f"could not store {len(failures)} feed states in {self.index}: {failures[0]}")


# The cumulative counter never goes back: a state loaded before record_articles added to it must not
# undo the addition, and a state whose count the caller raised (stored + new) is kept.
_SAVE_SCRIPT = ("long total = ctx._source.articles_total == null ? 0 : ctx._source.articles_total; "
                "ctx._source = params.doc; "
                "ctx._source.articles_total = (long) Math.max(total, params.doc.articles_total);")


def _is_missing(error: Mapping[str, Any]) -> bool:
    # record_articles for a feed whose state is not stored yet: nothing to add to.
    return any(item.get("status") == 404 for item in error.values() if isinstance(item, dict))


def _iso(value: datetime | None) -> str | None:
    return format_utc(value) if value is not None else None


