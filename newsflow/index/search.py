"""Searching the articles: a Lucene query string, keyword filters, a time window, facets, highlights.

The query runs through `<prefix>-articles` with Elasticsearch's `query_string` (the syntax of Kibana's
Lucene mode and of the alert rules); unqualified terms search title (boosted), summary, body and the
language-specific copies. `*` (or an empty query) matches everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.errors import ElasticsearchUnavailable, LeadingWildcardError, QueryError, SearchTimeout
from newsflow.core.es import translate_errors
from newsflow.core.models import format_utc, utc_now
from newsflow.core.settings import Settings
from newsflow.index.entity_query import filter_clause, rewrite_entity_fields
from newsflow.index.mappings import ARTICLE_PROPERTIES
from newsflow.index.setup import ensure_indices, names_for

FACETS: tuple[str, ...] = (
    "persons", "organizations", "locations", "topics", "source", "credit", "distributor",
)
FACET_SIZE = 10
SEARCH_FIELDS: tuple[str, ...] = ("title^3", "summary^2", "body", "i18n.*")
HIGHLIGHT_FIELDS: tuple[str, ...] = ("title", "summary", "body")
# --filter works on exact-valued fields: the keyword fields of the mapping.
FILTER_FIELDS: frozenset[str] = frozenset(
    name for name, spec in ARTICLE_PROPERTIES.items() if spec.get("type") == "keyword"
)
MAX_SIZE = 10_000
HIT_FIELDS: tuple[str, ...] = (
    "title", "url", "source", "published_at", "story_id", "summary", "authors", "ingested_at",
)
# --by-story: field collapsing on story_id, one hit per story; the inner hits (none fetched) count the
# story's matching copies. Articles without a story id (indexed without enrichment) form one group.
BY_STORY_REQUEST: dict[str, Any] = {
    "collapse": {"field": "story_id", "inner_hits": {"name": "copies", "size": 0, "_source": False}},
}
BY_STORY_AGGS: dict[str, Any] = {"stories": {"cardinality": {"field": "story_id"}}}

# Elasticsearch's parser message for a term starting with * or ? (allow_leading_wildcard: false).
LEADING_WILDCARD_MESSAGE = "not allowed as first character in WildcardQuery"
# The client waits this much longer than the search's own timeout, so that Elasticsearch can answer
# "timed out" itself; past it, the cluster is stalled.
_CLIENT_GRACE_SECONDS = 5.0



@dataclass(frozen=True, slots=True)
class SearchHit:
    id: str
    title: str
    url: str
    source: str
    published_at: str  # ISO 8601 UTC, as stored
    story_id: str
    score: float
    highlights: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # field -> fragments (<em>)
    summary: str = ""
    authors: tuple[str, ...] = ()
    ingested_at: str = ""  # ISO 8601 UTC: when this version was fetched (the Atom entry's `updated`)
    copies: int | None = None  # with by_story: the story's articles that match (this one included)


@dataclass(frozen=True, slots=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    hits: tuple[SearchHit, ...]
    facets: Mapping[str, tuple[FacetValue, ...]]
    stories: int | None = None  # with by_story: distinct matching stories (approximate above 3,000)

    def to_json(self) -> dict[str, Any]:
        """The `search --json` object of the user-facing contract (with by_story, `stories` and each
        hit's `copies` too)."""
        data: dict[str, Any] = {
            "total": self.total,
            "hits": [
                {"id": h.id, "title": h.title, "url": h.url, "source": h.source,
                 "published_at": h.published_at, "story_id": h.story_id, "score": h.score}
                | ({"copies": h.copies} if h.copies is not None else {})
                for h in self.hits
            ],
            "facets": {
                name: [{"value": f.value, "count": f.count} for f in values]
                for name, values in self.facets.items()
            },
        }
        if self.stories is not None:
            data["stories"] = self.stories
        return data


def parse_filter(text: str) -> tuple[str, str]:
    """"FIELD=VALUE" as a pair (the CLI's --filter)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise QueryError(text, "a filter is FIELD=VALUE, e.g. source=BBC or persons=Vladimir Putin")
    return name.strip(), value.strip()


def build_query(query: str, filters: Sequence[tuple[str, str]], since: timedelta | None) -> dict[str, Any]:
    """The Elasticsearch query for a search: pure, so it can be checked without a cluster."""
    for name, _ in filters:
        if name not in FILTER_FIELDS:
            allowed = ", ".join(sorted(FILTER_FIELDS))
            raise QueryError(f"{name}=...", f"cannot filter on {name!r}; filterable fields: {allowed}")
    must: dict[str, Any]
    if query.strip() in ("", "*"):
        must = {"match_all": {}}
    else:
        # No leading wildcards: "*flation" makes Elasticsearch walk every term of every field.
        must = {"query_string": {"query": rewrite_entity_fields(query), "fields": list(SEARCH_FIELDS),
                                 "lenient": False, "allow_leading_wildcard": False}}
    clauses: list[dict[str, Any]] = [filter_clause(name, value) for name, value in filters]
    if since is not None:
        start = utc_now() - since
        clauses.append({"range": {"published_at": {"gte": format_utc(start)}}})
    return {"bool": {"must": [must], "filter": clauses}}


def search_articles(
    client: Elasticsearch,
    settings: Settings,
    query: str,
    *,
    filters: Sequence[tuple[str, str]] = (),
    since: timedelta | None = None,
    size: int = 10,
    by_story: bool = False,
) -> SearchResult:
    """Run a search; with `by_story`, one hit per story (field collapsing on `story_id`: the best
    matching copy, with the number of matching copies; `total` still counts articles).

    Raises QueryError (with the parser's message) for an invalid query or filter, LeadingWildcardError
    for a term starting with * or ?, SearchTimeout when it runs longer than `index.search_timeout`
    (partial results are not passed off as complete)."""
    if not 0 <= size <= MAX_SIZE:
        raise QueryError(query, f"size must be between 0 and {MAX_SIZE}, not {size}")
    body = build_query(query, filters, since)
    alias = names_for(settings).alias
    seconds = settings.index.search_timeout
    bounded = client.options(request_timeout=seconds + _CLIENT_GRACE_SECONDS, max_retries=0,
                             retry_on_timeout=False)
    aggs: dict[str, Any] = {name: {"terms": {"field": name, "size": FACET_SIZE}} for name in FACETS}
    extra: dict[str, Any] = {}
    if by_story:
        extra = BY_STORY_REQUEST
        aggs |= BY_STORY_AGGS
    try:
        with translate_errors(settings.es_url_redacted, query=query):
            if not bounded.indices.exists_alias(name=alias):
                ensure_indices(client, settings)
            response = bounded.search(
                index=alias,
                query=body,
                size=size,
                timeout=f"{max(1, int(seconds * 1000))}ms",
                track_total_hits=True,
                source_includes=list(HIT_FIELDS),
                aggs=aggs,
                highlight={
                    "fields": {name: {} for name in HIGHLIGHT_FIELDS},
                    "require_field_match": False,
                    "fragment_size": 160,
                    "number_of_fragments": 2,
                    "pre_tags": ["<em>"],
                    "post_tags": ["</em>"],
                },
                sort=["_score", {"published_at": "desc"}],
                **extra,
            )
    except QueryError as exc:
        raise refined_query_error(exc) from exc
    except ElasticsearchUnavailable as exc:
        if _timed_out(exc):
            raise SearchTimeout(query, seconds) from exc
        raise
    if response.body.get("timed_out"):
        raise SearchTimeout(query, seconds)
    return _result(response.body)


def refined_query_error(exc: QueryError) -> QueryError:
    """The named error for a parser message newsflow knows (a leading wildcard), else `exc`."""
    if LEADING_WILDCARD_MESSAGE in exc.detail:
        return LeadingWildcardError(exc.query)
    return exc


def _timed_out(exc: BaseException) -> bool:
    import elasticsearch

    return isinstance(exc.__cause__, elasticsearch.ConnectionTimeout)


def _result(body: Mapping[str, Any]) -> SearchResult:
    hits = tuple(
        SearchHit(
            id=hit["_id"],
            title=hit["_source"].get("title") or "",
            url=hit["_source"].get("url") or "",
            source=hit["_source"].get("source") or "",
            published_at=hit["_source"].get("published_at") or "",
            story_id=hit["_source"].get("story_id") or "",
            score=float(hit.get("_score") or 0.0),
            highlights={name: tuple(fragments) for name, fragments in (hit.get("highlight") or {}).items()},
            summary=hit["_source"].get("summary") or "",
            authors=tuple(hit["_source"].get("authors") or ()),
            ingested_at=hit["_source"].get("ingested_at") or "",
            copies=_copies(hit),
        )
        for hit in body["hits"]["hits"]
    )
    aggregations = body.get("aggregations") or {}
    facets = {
        name: tuple(FacetValue(str(b["key"]), int(b["doc_count"]))
                    for b in aggregations.get(name, {}).get("buckets", []))
        for name in FACETS
    }
    stories = aggregations.get("stories", {}).get("value")
    return SearchResult(total=int(body["hits"]["total"]["value"]), hits=hits, facets=facets,
                        stories=int(stories) if stories is not None else None)


def _copies(hit: Mapping[str, Any]) -> int | None:
    inner = (hit.get("inner_hits") or {}).get("copies")
    return int(inner["hits"]["total"]["value"]) if inner else None
