"""What the cycle needs of each store, as small Protocols, and the factory of the real ones.

The cycle (newsflow.app.cycle.Pipeline) sees its stores only through these Protocols; `Stores`
carries one factory per store, called once per cycle, since some stores keep per-cycle state (the
article store remembers the ids it looked up and whether Elasticsearch was overloaded, the spool
what it quarantined). `default_stores` builds the real ones: Elasticsearch, the on-disk spool and
the local feed-state cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from newsflow.core.models import Article
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from enrich.stories import CandidateLookup
    from ingest.dedupe import StoredArticle
    from ingest.types import FeedState
    from newsflow.index.spool import QuarantinedBatch
    from newsflow.index.store import BulkResult


class ArticleStorage(Protocol):
    """The articles (newsflow.index.store.ArticleStore) and their alert queue."""

    def refresh(self) -> None: ...
    def stored_articles(self, ids: Sequence[str]) -> dict[str, StoredArticle]: ...
    def write(self, articles: Sequence[Article], *, alert_pending: bool = True) -> BulkResult: ...
    def write_prepared(self, prepared: Mapping[str, Mapping[str, Any]], *,
                       alert_pending: bool = True) -> BulkResult: ...
    def alert_pending(self) -> list[Article]: ...
    def clear_alert_pending(self, ids: Sequence[str]) -> None: ...


class FeedStates(Protocol):
    """Feed states by key: in Elasticsearch (ingest.state.FeedStateStore) or in the local cache
    (newsflow.app.state_cache.FeedStateCache)."""

    def load(self, keys: Iterable[str]) -> Mapping[str, FeedState]: ...
    def save(self, states: Iterable[FeedState]) -> None: ...


class ArticleSpool(Protocol):
    """Articles waiting for Elasticsearch (newsflow.index.spool.Spool)."""

    @property
    def quarantined(self) -> Sequence[QuarantinedBatch]: ...
    def load(self) -> list[Article]: ...
    def put(self, articles: Sequence[Article]) -> None: ...
    def discard(self, ids: Iterable[str]) -> None: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Stores:
    """One factory per store; the cycle calls each once per cycle (see the module docstring)."""

    articles: Callable[[], ArticleStorage]
    feed_states: Callable[[], FeedStates]
    state_cache: Callable[[], FeedStates]
    spool: Callable[[], ArticleSpool]
    # Earlier articles to cluster stories with: those ingested before the given time.
    candidates: Callable[[datetime], CandidateLookup]


def default_stores(client: Elasticsearch, settings: Settings) -> Stores:
    """The real stores: Elasticsearch through `client`, the spool and feed-state cache on disk."""
    from enrich.stories import ElasticsearchCandidates
    from ingest.state import FeedStateStore
    from newsflow.app.state_cache import FeedStateCache
    from newsflow.index.spool import Spool
    from newsflow.index.store import ArticleStore

    return Stores(
        articles=lambda: ArticleStore(client, settings),
        feed_states=lambda: FeedStateStore(client, settings),
        state_cache=lambda: FeedStateCache(settings),
        spool=lambda: Spool(settings.spool_dir, settings.index.spool_max_bytes),
        candidates=lambda since: ElasticsearchCandidates(client, settings, ingested_before=since),
    )
