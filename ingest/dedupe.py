"""Exact duplicates and ownership: the same article (same URL) reached through several feeds or polled again.

Pure functions over what the index already holds (`StoredArticle` per id, read by
`newsflow.index.store.ArticleStore.stored_articles`):

- `unique_per_publisher` keeps one copy per (id, publisher) within a batch;
- `lookup_ids` lists the ids a batch must be looked up under (its own and its copies');
- `classify` decides, per article, who owns its id, and whether it is new, updated or unchanged.

Ownership: an article's id (a hash of its URL) belongs to the publisher that first carried it — the
feed, or any feed on the same host (a publisher's section feeds share its articles). Another
publisher's feed carrying the same URL never overwrites that article: its copy is an article of its
own, with an id derived from the URL and that feed (`copy_id`), which story clustering joins to the
original's story as a near-duplicate. Without this, any feed could replace any article's title,
source and text by listing its link.

Undated items: normalisation dates an item without a date at the fetch time, which would change its
content hash on every poll. Such an item keeps its first-seen time (the stored `published_at`), so an
unchanged undated item is `unchanged`.

Near-duplicates (syndicated copies at other URLs) are enrich's story clustering, not this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from newsflow.core.models import Article


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """What the index holds for one id: enough to decide ownership and change."""

    content_hash: str
    feed_url: str  # the feed that carried the stored copy (its owner)
    published_at: datetime | None  # as stored: an undated item's first-seen time


@dataclass(frozen=True, slots=True)
class Classification:
    new: tuple[Article, ...] = ()  # never stored: index
    updated: tuple[Article, ...] = ()  # stored with another content hash: re-index
    unchanged: tuple[Article, ...] = ()  # stored with the same content hash: skip
    # How many articles of the batch are another publisher's copies (with ids of their own, in the
    # lists above).
    copies: int = 0


def publisher(feed_url: str) -> str:
    """Who owns what a feed carries: its host (lower case), or the feed itself when it has none
    (a local file)."""
    try:
        host = urlsplit(feed_url).hostname
    except ValueError:
        host = None
    return f"host:{host}" if host else f"feed:{feed_url}"


def same_publisher(feed_url: str, owner_feed_url: str) -> bool:
    return not owner_feed_url or publisher(feed_url) == publisher(owner_feed_url)


def copy_id(url: str, feed_url: str) -> str:
    """The id of another publisher's copy of the article at `url`: stable for that (url, feed)."""
    return hashlib.sha256(f"{url}\n{feed_url}".encode()).hexdigest()[:32]


def undated(article: Article) -> bool:
    """Whether the article's date is the fetch time (an item without a usable date, or one dated in
    the future and clamped): normalisation gives such items `published_at == ingested_at`, which a
    feed's own date (seconds, never later than the fetch) matches only by coincidence."""
    return article.published_at == article.ingested_at


def richness(article: Article) -> tuple[int, int, int, int]:
    """Ordering key of copies of one article: the fullest text wins, then metadata."""
    return (len(article.body), len(article.summary), len(article.authors) + len(article.categories),
            len(article.title))


def unique_by_id(articles: Iterable[Article]) -> list[Article]:
    """One article per id, in first-seen order, keeping the richest copy."""
    best: dict[str, Article] = {}
    for article in articles:
        kept = best.get(article.id)
        if kept is None or richness(article) > richness(kept):
            best[article.id] = article
    return list(best.values())


def unique_per_publisher(articles: Iterable[Article]) -> list[Article]:
    """One article per (id, publisher), in first-seen order, keeping the richest copy: a publisher's
    section feeds carrying one article give one article; other publishers' copies are kept for
    `classify` to store apart."""
    best: dict[tuple[str, str], Article] = {}
    for article in articles:
        key = (article.id, publisher(article.feed_url))
        kept = best.get(key)
        if kept is None or richness(article) > richness(kept):
            best[key] = article
    return list(best.values())


def lookup_ids(articles: Iterable[Article]) -> list[str]:
    """Every id `classify` may need for these articles: each one's own and its possible copy's."""
    ids: dict[str, None] = {}
    for article in articles:
        ids[article.id] = None
        ids[copy_id(article.url, article.feed_url)] = None
    return list(ids)


def classify(articles: Sequence[Article], stored: Mapping[str, StoredArticle]) -> Classification:
    """Split articles by what the index already holds (`stored`: id -> StoredArticle, for the ids of
    `lookup_ids`). Articles of other publishers come out with their copy id; undated ones with their
    first-seen date. Within the batch, the first publisher to carry an unstored id owns it."""
    new: list[Article] = []
    updated: list[Article] = []
    unchanged: list[Article] = []
    claimed: dict[str, str] = {}  # id -> owner feed, for ids first seen in this batch
    copies = 0
    for article in articles:
        owner = stored[article.id].feed_url if article.id in stored else claimed.get(article.id)
        if owner is None:
            claimed[article.id] = article.feed_url
        elif not same_publisher(article.feed_url, owner):
            article = replace(article, id=copy_id(article.url, article.feed_url))
            copies += 1
        record = stored.get(article.id)
        if record is None:
            new.append(article)
            continue
        if undated(article) and record.published_at is not None:
            article = replace(article, published_at=record.published_at)
        if record.content_hash != article.content_hash:
            updated.append(article)
        else:
            unchanged.append(article)
    return Classification(tuple(new), tuple(updated), tuple(unchanged), copies)
