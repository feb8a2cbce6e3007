"""Feed state in Elasticsearch (`<prefix>-feeds`), so any worker can poll any feed.

One document per feed, id = feed key. The mapping is strict: a field that is not a FeedState
field is refused rather than silently added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers

from index.client import translate_errors
from ingest.types import FeedState
from newsflow.errors import IndexError_
from newsflow.models import parse_utc
from newsflow.settings import Settings

_KEYWORD = {"type": "keyword", "ignore_above": 2048}
_DATES = ("last_fetched_at", "last_success_at", "next_due_at")

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
    doc = asdict(state)
    for name in _DATES:
        doc[name] = _iso(doc[name])
    doc["recent_item_times"] = [_iso(t) for t in state.recent_item_times]
    return doc


def state_from_document(doc: Mapping[str, Any]) -> FeedState:
    return FeedState(
        key=doc["key"],
        url=doc["url"],
        current_url=doc.get("current_url") or "",
        title=doc.get("title") or "",
        etag=doc.get("etag") or "",
        last_modified=doc.get("last_modified") or "",
        last_fetched_at=_date(doc.get("last_fetched_at")),
        last_success_at=_date(doc.get("last_success_at")),
        last_status=doc.get("last_status") or "",
        last_error=doc.get("last_error") or "",
        consecutive_failures=int(doc.get("consecutive_failures") or 0),
        next_due_at=_date(doc.get("next_due_at")),
        gone=bool(doc.get("gone")),
        item_count=int(doc.get("item_count") or 0),
        articles_total=int(doc.get("articles_total") or 0),
        recent_item_times=tuple(parse_utc(t) for t in doc.get("recent_item_times") or ()),
        declared_interval=doc.get("declared_interval"),
    )


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
                # 400 = created meanwhile by another worker (resource_already_exists_exception).
                self.client.options(ignore_status=400).indices.create(
                    index=self.index, mappings=FEEDS_MAPPING,
                    settings={"number_of_shards": 1, "number_of_replicas": self.settings.index.replicas},
                )
        self._ensured = True

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
                        states[doc["_id"]] = state_from_document(doc["_source"])
        return states

    def load_all(self) -> list[FeedState]:
        """Every stored feed state (for the health view), ordered by URL."""
        with translate_errors(self._url):
            if not self.client.indices.exists(index=self.index):
                return []
            self.client.indices.refresh(index=self.index)
            hits = helpers.scan(self.client, index=self.index, query={"query": {"match_all": {}}})
            states = [state_from_document(hit["_source"]) for hit in hits]
        return sorted(states, key=lambda s: s.url)

    def save(self, states: Iterable[FeedState]) -> None:
        """Store states (replacing earlier ones).

        articles_total is cumulative: the larger of the stored and the given value is kept, so either
        raise it in the state (stored + new) or call record_articles; it never goes back.
        """
        actions = [
            {"_op_type": "update", "_index": self.index, "_id": state.key,
             "script": {"source": _SAVE_SCRIPT, "params": {"doc": state_to_document(state)}},
             "upsert": state_to_document(state)}
            for state in states
        ]
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
            self.ensure()
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
    return value.isoformat() if value is not None else None


def _date(value: Any) -> datetime | None:
    return parse_utc(value) if value else None
