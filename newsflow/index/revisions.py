"""Edit history: the previous versions of articles that were re-indexed because their content changed.

Layout (prefix `p`):

    ILM policy      p-revisions         rollover and retention as the articles (IndexSettings)
    index template  p-revisions         matches p-revisions-*, settings, analysis and mappings inline
    indices         p-revisions-000001  created by rollover
    alias           p-revisions         the newest index is the write index

One document per (article, revision): the title, summary and body the article had before an update,
with the time that version was fetched (`ingested_at`), its content hash, the revision number (1 for
the first version replaced) and the hash of the content that replaced it (`replaced_by_hash`, what
the `--on-edit` alert rules look revisions up by). The document id is
`revision_id_for(article id, previous content hash)`, so a retried cycle writes the same revision
again instead of a second one. At most `IndexSettings.max_revisions` are kept per article: the older
ones are deleted when a newer one is written.

`revision_documents` and the requests are pure; `RevisionWriter` (used by the article store, one mget
of the previous versions per written batch and only for articles being updated) and the readers
(`revisions_of`, `replaced_revisions`, `search_revisions`) do the I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.models import format_utc
from newsflow.core.settings import Settings
from newsflow.index.mappings import ANALYSIS, ARTICLE_PROPERTIES

# What a revision keeps of the article version it replaces (read in the one mget per batch).
PREVIOUS_FIELDS: tuple[str, ...] = (
    "title", "summary", "body", "url", "source", "feed_url", "story_id", "published_at", "ingested_at",
    "content_hash",
)

REVISION_PROPERTIES: dict[str, Any] = {
    "article_id": {"type": "keyword"},
    "revision": {"type": "integer"},
    # The previous version's text and source, searched as the articles' are.
    **{name: ARTICLE_PROPERTIES[name]
       for name in ("title", "summary", "body", "url", "source", "feed_url", "published_at")},
    "story_id": {"type": "keyword"},
    "ingested_at": {"type": "date"},  # when this (previous) version was fetched
    "content_hash": {"type": "keyword"},  # this version's hash
    "replaced_at": {"type": "date"},  # when the newer version was indexed
    "replaced_by_hash": {"type": "keyword"},  # the hash of the version that replaced it
}


@dataclass(frozen=True, slots=True)
class RevisionNames:
    prefix: str

    @property
    def alias(self) -> str:
        return f"{self.prefix}-revisions"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-revisions-*"

    @property
    def first_index(self) -> str:
        return f"{self.prefix}-revisions-000001"

    @property
    def ilm_policy(self) -> str:
        return f"{self.prefix}-revisions"

    @property
    def index_template(self) -> str:
        return f"{self.prefix}-revisions"


def revision_names(settings: Settings) -> RevisionNames:
    return RevisionNames(settings.index_prefix)


def revision_id_for(article_id: str, previous_hash: str) -> str:
    """The stable id of the revision that keeps the version of `article_id` with `previous_hash`."""
    return hashlib.sha256(f"{article_id}\n{previous_hash}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Revision:
    """One previous version of an article."""

    id: str
    article_id: str
    number: int  # 1 for the first version replaced
    title: str
    summary: str
    body: str
    url: str
    source: str
    ingested_at: str  # ISO 8601 UTC: when this version was fetched
    content_hash: str
    replaced_at: str  # ISO 8601 UTC: when the newer version was indexed
    replaced_by_hash: str

    @classmethod
    def from_hit(cls, hit: Mapping[str, Any]) -> Revision:
        s = hit.get("_source") or {}
        return cls(
            id=str(hit["_id"]), article_id=s.get("article_id") or "", number=int(s.get("revision") or 0),
            title=s.get("title") or "", summary=s.get("summary") or "", body=s.get("body") or "",
            url=s.get("url") or "", source=s.get("source") or "", ingested_at=s.get("ingested_at") or "",
            content_hash=s.get("content_hash") or "", replaced_at=s.get("replaced_at") or "",
            replaced_by_hash=s.get("replaced_by_hash") or "",
        )


# --- set-up ---
def revisions_policy(settings: Settings) -> dict[str, Any]:
    """Rollover and retention as the articles' policy (newsflow.index.setup.ilm_policy)."""
    from newsflow.index.setup import ilm_policy

    return ilm_policy(settings)


def revisions_template(settings: Settings, replicas: int) -> dict[str, Any]:
    names = revision_names(settings)
    return {
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": replicas,
            "index.lifecycle.name": names.ilm_policy,
            "index.lifecycle.rollover_alias": names.alias,
            "index.query.default_field": ["title", "summary", "body"],
            "analysis": ANALYSIS,
        },
        "mappings": {"dynamic": "strict", "properties": REVISION_PROPERTIES},
    }


def ensure_revisions(client: Elasticsearch, settings: Settings) -> None:
    """Create or upgrade the revisions policy and template; the first index and alias when missing.
    Call inside `translate_errors`."""
    names = revision_names(settings)
    client.ilm.put_lifecycle(name=names.ilm_policy, policy=revisions_policy(settings))
    template = revisions_template(settings, number_of_replicas(settings, client))
    client.indices.put_index_template(
        name=names.index_template, index_patterns=[names.pattern], template=template,
        priority=200, meta={"managed_by": "newsflow", "alias": names.alias},
    )
    if client.indices.exists_alias(name=names.alias):
        client.indices.put_mapping(index=names.alias, properties=REVISION_PROPERTIES)
    else:
        create_index(client, index=names.first_index,
                     aliases={names.alias: {"is_write_index": True}})


# --- pure decisions ---
def revision_documents(
    previous: Mapping[str, Mapping[str, Any]], replacing: Mapping[str, Mapping[str, Any]],
    numbers: Mapping[str, int], now: datetime,
) -> dict[str, dict[str, Any]]:
    """Revision id -> document, for each article whose stored version (`previous`, article id ->
    stored source) differs from the document about to replace it (`replacing`); `numbers`: the
    highest revision number already kept per article (other than these revisions). Pure."""
    documents: dict[str, dict[str, Any]] = {}
    replaced_at = format_utc(now)
    for article_id, old in previous.items():
        new = replacing.get(article_id)
        old_hash = str(old.get("content_hash") or "")
        if new is None or old_hash == str(new.get("content_hash") or ""):
            continue
        documents[revision_id_for(article_id, old_hash)] = {
            "article_id": article_id,
            "revision": numbers.get(article_id, 0) + 1,
            **{name: old.get(name) for name in PREVIOUS_FIELDS if old.get(name) not in (None, "")},
            "replaced_at": replaced_at,
            "replaced_by_hash": str(new.get("content_hash") or ""),
        }
    return documents


def numbers_request(article_ids: Sequence[str], revision_ids: Sequence[str]) -> dict[str, Any]:
    """The highest revision number per article, not counting `revision_ids` (being written again
    after a retry): pure."""
    return {
        "size": 0,
        "query": {"bool": {"filter": [{"terms": {"article_id": list(article_ids)}}],
                           "must_not": [{"ids": {"values": list(revision_ids)}}]}},
        "aggs": {"articles": {"terms": {"field": "article_id", "size": max(1, len(article_ids))},
                              "aggs": {"last": {"max": {"field": "revision"}}}}},
    }


def prune_query(kept: Mapping[str, int], bound: int) -> dict[str, Any] | None:
    """The revisions past the bound: for each article whose newest revision is `kept[id]`, those
    numbered `kept[id] - bound` or lower. None when there are none. Pure."""
    clauses = [{"bool": {"filter": [{"term": {"article_id": article_id}},
                                    {"range": {"revision": {"lte": number - bound}}}]}}
               for article_id, number in kept.items() if number > bound]
    if not clauses:
        return None
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


# --- I/O ---
class RevisionWriter:
    """Keeps the previous versions of the articles a write replaces (see the module docstring). The
    article store calls `previous_versions` and `write` inside `translate_errors`."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.names = revision_names(settings)

    def previous_versions(self, located: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """Article id -> stored source (PREVIOUS_FIELDS), read in one mget from the concrete indices
        (`located`: id -> index)."""
        if not located:
            return {}
        response = self.client.mget(
            docs=[{"_index": index, "_id": doc_id} for doc_id, index in located.items()],
            source_includes=list(PREVIOUS_FIELDS),
        )
        return {str(doc["_id"]): dict(doc.get("_source") or {})
                for doc in response["docs"] if doc.get("found")}

    def numbered(self, previous: Mapping[str, Mapping[str, Any]], replacing: Mapping[str, Mapping[str, Any]],
                 now: datetime) -> dict[str, dict[str, Any]]:
        """The revision documents to write, numbered after those already kept (one search)."""
        draft = revision_documents(previous, replacing, {}, now)
        if not draft:
            return {}
        article_ids = [str(doc["article_id"]) for doc in draft.values()]
        self.client.indices.refresh(index=self.names.alias, ignore_unavailable=True)
        response = self.client.search(index=self.names.alias, **numbers_request(article_ids, list(draft)),
                                      ignore_unavailable=True, allow_no_indices=True)
        buckets = ((response.get("aggregations") or {}).get("articles") or {}).get("buckets") or []
        numbers = {str(b["key"]): int(b["last"]["value"] or 0) for b in buckets}
        return revision_documents(previous, replacing, numbers, now)

    def prune(self, written: Mapping[str, Mapping[str, Any]]) -> int:
        """Delete the revisions past `IndexSettings.max_revisions` of the articles just given a new
        one; how many were deleted."""
        kept = {str(doc["article_id"]): int(doc["revision"]) for doc in written.values()}
        query = prune_query(kept, max(1, self.settings.index.max_revisions))
        if query is None:
            return 0
        response = self.client.delete_by_query(index=self.names.alias, query=query, conflicts="proceed",
                                               refresh=True, ignore_unavailable=True,
                                               allow_no_indices=True)
        return int(response.get("deleted") or 0)


def revisions_of(client: Elasticsearch, settings: Settings,
                 article_ids: Sequence[str]) -> dict[str, list[Revision]]:
    """Article id -> its kept revisions, oldest first (for `newsflow story`)."""
    if not article_ids:
        return {}
    alias = revision_names(settings).alias
    with translate_errors(settings.es_url_redacted):
        response = client.search(
            index=alias, query={"terms": {"article_id": list(article_ids)}},
            sort=[{"article_id": "asc"}, {"revision": "asc"}],
            size=min(10_000, len(article_ids) * max(1, settings.index.max_revisions)),
            ignore_unavailable=True, allow_no_indices=True,
        )
    found: dict[str, list[Revision]] = {}
    for hit in response["hits"]["hits"]:
        revision = Revision.from_hit(hit)
        found.setdefault(revision.article_id, []).append(revision)
    return found


def replaced_revisions(client: Elasticsearch, settings: Settings,
                       current: Mapping[str, str]) -> dict[str, Revision]:
    """Article id -> the revision its current content (`current`: id -> content hash) replaced, for
    the articles that were updated to that content (what `--on-edit` rules alert on)."""
    if not current:
        return {}
    alias = revision_names(settings).alias
    with translate_errors(settings.es_url_redacted):
        client.indices.refresh(index=alias, ignore_unavailable=True)
        response = client.search(
            index=alias, size=min(10_000, len(current) * 2),
            query={"bool": {"filter": [{"terms": {"article_id": list(current)}},
                                       {"terms": {"replaced_by_hash": sorted(set(current.values()))}}]}},
            sort=[{"revision": "desc"}], ignore_unavailable=True, allow_no_indices=True,
        )
    found: dict[str, Revision] = {}
    for hit in response["hits"]["hits"]:
        revision = Revision.from_hit(hit)
        if current.get(revision.article_id) == revision.replaced_by_hash:
            found.setdefault(revision.article_id, revision)
    return found


def search_revisions(client: Elasticsearch, settings: Settings, query: str,
                     size: int = 20) -> tuple[int, list[Revision]]:
    """Revisions matching a Lucene query string (title, summary, body by default), newest first."""
    body = {"match_all": {}} if query.strip() in ("", "*") else {"query_string": {"query": query}}
    alias = revision_names(settings).alias
    with translate_errors(settings.es_url_redacted, query=query):
        response = client.search(index=alias, query=body, size=size, track_total_hits=True,
                                 sort=[{"replaced_at": "desc"}, {"revision": "desc"}],
                                 ignore_unavailable=True, allow_no_indices=True)
    hits = response["hits"]
    return int(hits["total"]["value"]), [Revision.from_hit(hit) for hit in hits["hits"]]
