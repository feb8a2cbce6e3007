"""Feed states cached on local disk, so schedules and conditional GETs hold while Elasticsearch is down.

Elasticsearch (`<prefix>-feeds`) is where feed state lives; this cache is a copy that every cycle
writes whenever it saves or computes states, including cycles that ran during an outage (their
validators and next poll times advance here only). While Elasticsearch is unreachable, `--due` and
the fetcher read the cache; once it is back, `reconcile` picks the newer of the two copies per feed
(by `last_fetched_at`) and the cycle writes the cached ones that are newer back to Elasticsearch.

The file is `<home>/feed-states-<prefix>.json` (one JSON object: feed key -> state document), written
crash-safely (temporary file, fsync, rename) under an exclusive lock, so parallel shards sharing a
home merge their states rather than overwrite each other's. A file that cannot be read is moved aside to
`<name>.corrupt-<time>` with a warning and the cache starts empty: no stored state can stop a cycle.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsflow.core.models import parse_utc
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from ingest.types import FeedState

log = logging.getLogger(__name__)


def cache_path(settings: Settings) -> Path:
    return settings.home / f"feed-states-{settings.index_prefix}.json"


def newer(cached: FeedState, stored: FeedState | None) -> bool:
    """Whether the cached copy is more recent than Elasticsearch's (a tie keeps Elasticsearch's)."""
    if stored is None:
        return True
    return _fetched(cached) > _fetched(stored)


def reconcile(stored: Mapping[str, FeedState], cached: Mapping[str, FeedState]
              ) -> tuple[dict[str, FeedState], list[FeedState]]:
    """The newest state per feed, and the cached states Elasticsearch must be brought up to."""
    merged = dict(stored)
    behind: list[FeedState] = []
    for key, state in cached.items():
        if newer(state, stored.get(key)):
            merged[key] = state
            behind.append(state)
    return merged, behind


def _parse_fetched(value: Any) -> datetime | None:
    """A cached document's last_fetched_at; None when it has none or it cannot be read."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc(value)
    except (ValueError, OverflowError, TypeError):
        return None


def _fetched(state: FeedState) -> datetime:
    return state.last_fetched_at or datetime.min.replace(tzinfo=UTC)


class FeedStateCache:
    """Load and save the local copy of feed states."""

    def __init__(self, settings: Settings) -> None:
        self.path = cache_path(settings)

    def load(self, keys: Iterable[str] | None = None) -> dict[str, FeedState]:
        """The cached states (of these keys, or all). A corrupt file is moved aside, not raised."""
        from ingest.state import state_from_document

        documents = self._documents()
        wanted = documents.keys() if keys is None else [k for k in dict.fromkeys(keys) if k in documents]
        states: dict[str, FeedState] = {}
        for key in wanted:
            try:
                states[key] = state_from_document(documents[key], key)
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                log.warning("cached feed state %s in %s does not validate (%s: %s); ignored",
                            key, self.path, type(exc).__name__, exc)
        return states

    def save(self, states: Iterable[FeedState]) -> None:
        """Merge states into the cache (a state older than the cached copy does not replace it)."""
        given = list(states)
        if not given:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Parallel shards (Airflow) share the home: the read-merge-write must not lose another
        # process's states, so it holds an exclusive lock on a file beside the cache.
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._merge(given)

    def _merge(self, given: list[FeedState]) -> None:
        from ingest.state import state_to_document

        documents = self._documents()
        for state in given:
            current = documents.get(state.key)
            # Only the cached copy's fetch time decides (see `newer`): read that one field rather
            # than the whole state, 10,000 times per cycle for 10,000 feeds.
            cached_at = _parse_fetched(current.get("last_fetched_at")) if current else None
            if cached_at is None or cached_at <= _fetched(state):
                documents[state.key] = state_to_document(state)
        self._write(json.dumps(documents, ensure_ascii=False, sort_keys=True).encode("utf-8"))

    def _documents(self) -> dict[str, Any]:
        try:
            payload = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read the feed-state cache %s (%s); polling as if it were empty",
                        self.path, exc)
            return {}
        try:
            documents = json.loads(payload.decode("utf-8"))
            if not isinstance(documents, dict) or not all(isinstance(d, dict) for d in documents.values()):
                raise ValueError("not an object of state documents")
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.time_ns()}")
            log.warning("the feed-state cache %s is corrupt (%s): moved to %s, starting empty",
                        self.path, exc, aside)
            with contextlib.suppress(OSError):  # unreadable and unmovable: it is ignored all the same
                os.replace(self.path, aside)
            return {}
        return documents

    def _write(self, payload: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        descriptor = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
