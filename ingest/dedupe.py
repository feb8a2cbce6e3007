"""Exact duplicates: the same article (same id) reached through several feeds or polled again.

Pure functions: `unique_by_id` within a batch, `classify` against the content hashes already stored.
Near-duplicates (syndicated copies at other URLs) are enrich's story clustering, not this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from newsflow.models import Article


@dataclass(frozen=True, slots=True)
class Classification:
    new: tuple[Article, ...] = ()  # never stored: index
    updated: tuple[Article, ...] = ()  # stored with another content hash: re-index
    unchanged: tuple[Article, ...] = ()  # stored with the same content hash: skip


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


def classify(articles: Sequence[Article], stored_hashes: Mapping[str, str]) -> Classification:
    """Split articles by what the index already holds (`stored_hashes`: id -> content_hash)."""
    new: list[Article] = []
    updated: list[Article] = []
    unchanged: list[Article] = []
    for article in articles:
        stored = stored_hashes.get(article.id)
        if stored is None:
            new.append(article)
        elif stored != article.content_hash:
            updated.append(article)
        else:
            unchanged.append(article)
    return Classification(tuple(new), tuple(updated), tuple(unchanged))
