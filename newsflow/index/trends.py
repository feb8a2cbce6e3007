"""Trending entities and topics: what is unusually frequent among recent articles.

Elasticsearch's `significant_terms` aggregation (free licence) compares how often each value of an
entity or topic field occurs in the *foreground* (the articles published in the window, optionally
narrowed by a query and filters) with how often it occurs in the *background* (the whole index, or the
articles published in a longer window). A value that is much commoner in the window than usual scores
high; one that is always common ("United States") does not.

For each trending value the answer carries its count in the window, its count in the background, the
score, how many stories mention it, and its top stories: a `terms` aggregation on `story_id` (most
copies first) with the first copy of each (`top_hits` size 1, oldest first), which is the aggregation
form of collapsing the hits by story.

`build_trends_request` is pure (checked without a cluster); `find_trends` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.errors import QueryError
from newsflow.core.models import utc_now
from newsflow.core.settings import Settings
from newsflow.index.bounded import bounded_search
from newsflow.index.search import build_query

TREND_FIELDS: tuple[str, ...] = ("persons", "organizations", "locations", "topics")
DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_SIZE = 10  # trending values per field
DEFAULT_STORIES = 3  # top stories per value
# A value must occur in at least this many articles of the window to trend (Elasticsearch's default):
# one or two mentions are noise, not a trend.
DEFAULT_MIN_COUNT = 3
MAX_SIZE = 100
STORY_FIELDS: tuple[str, ...] = ("title", "url", "source", "published_at", "story_id")


@dataclass(frozen=True, slots=True)
class TrendStory:
    story_id: str
    copies: int  # articles of this story in the window that name the value
    title: str  # of the story's first copy in the window
    url: str
    source: str
    published_at: str  # ISO 8601 UTC, as stored

    def to_json(self) -> dict[str, Any]:
        return {"story_id": self.story_id, "copies": self.copies, "title": self.title, "url": self.url,
                "source": self.source, "published_at": self.published_at}


@dataclass(frozen=True, slots=True)
class Trend:
    value: str
    count: int  # articles in the window naming it
    background_count: int  # articles in the background naming it
    score: float  # significant_terms score (JLH): higher = more unusual
    stories: int  # distinct stories in the window naming it (approximate above 3,000)
    top_stories: tuple[TrendStory, ...]

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count, "background_count": self.background_count,
                "score": round(self.score, 4), "stories": self.stories,
                "top_stories": [s.to_json() for s in self.top_stories]}


@dataclass(frozen=True, slots=True)
class TrendsResult:
    window_start: str | None  # ISO 8601 UTC; None: no lower bound (every matching article)
    window_end: str
    background_start: str | None  # None: the whole index
    articles: int  # articles in the foreground (window, query, filters)
    background_articles: int
    fields: Mapping[str, tuple[Trend, ...]]

    def to_json(self) -> dict[str, Any]:
        """The `trends --json` object (and the `trends` key of `search --json --trends`)."""
        return {
            "window": {"from": self.window_start, "to": self.window_end, "articles": self.articles},
            "background": {"from": self.background_start, "articles": self.background_articles},
            "fields": {name: [t.to_json() for t in trends] for name, trends in self.fields.items()},
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def build_trends_request(
    fields: Sequence[str],
    *,
    window_start: datetime | None,
    background_start: datetime | None = None,
    query: str = "*",
    filters: Sequence[tuple[str, str]] = (),
    size: int = DEFAULT_SIZE,
    stories: int = DEFAULT_STORIES,
    min_count: int = DEFAULT_MIN_COUNT,
) -> dict[str, Any]:
    """The search body (query, aggregations) for the trends of `fields`: pure.

    Foreground: articles matching `query` and `filters` published since `window_start` (None: any
    time). Background:
    articles published since `background_start`, or the whole index when it is None."""
    unknown = [name for name in fields if name not in TREND_FIELDS]
    if unknown or not fields:
        raise QueryError(",".join(fields), f"trends are found on {', '.join(TREND_FIELDS)}")
    if not 1 <= size <= MAX_SIZE or not 0 <= stories <= MAX_SIZE or min_count < 1:
        raise QueryError(query, f"size must be 1-{MAX_SIZE}, stories 0-{MAX_SIZE}, min count at least 1")
    if background_start is not None and window_start is not None and background_start > window_start:
        raise QueryError(query, "the background window must be longer than the trend window")
    body = build_query(query, filters, None)
    if window_start is not None:
        body["bool"]["filter"].append({"range": {"published_at": {"gte": _iso(window_start)}}})
    significant: dict[str, Any] = {"size": size, "min_doc_count": min_count, "shard_min_doc_count": 1}
    background: dict[str, Any] = {"match_all": {}}
    if background_start is not None:
        background = {"range": {"published_at": {"gte": _iso(background_start)}}}
        significant["background_filter"] = background
    story_aggs: dict[str, Any] = {"stories": {"cardinality": {"field": "story_id"}}}
    if stories:
        story_aggs["top_stories"] = {
            "terms": {"field": "story_id", "size": stories, "order": [{"_count": "desc"}, {"first": "asc"}]},
            "aggs": {
                "first": {"min": {"field": "published_at"}},
                "copy": {"top_hits": {"size": 1, "sort": [{"published_at": "asc"}],
                                      "_source": {"includes": list(STORY_FIELDS)}}},
            },
        }
    aggs: dict[str, Any] = {
        name: {"significant_terms": {"field": name, **significant}, "aggs": story_aggs} for name in fields
    }
    aggs["background"] = {"global": {}, "aggs": {"articles": {"filter": background}}}
    return {"query": body, "aggs": aggs}


def parse_trends(
    body: Mapping[str, Any], fields: Sequence[str], *, window_start: datetime | None, window_end: datetime,
    background_start: datetime | None,
) -> TrendsResult:
    """The TrendsResult of a search response to `build_trends_request`: pure."""
    aggregations = body.get("aggregations") or {}
    parsed: dict[str, tuple[Trend, ...]] = {}
    for name in fields:
        buckets = (aggregations.get(name) or {}).get("buckets") or []
        parsed[name] = tuple(_trend(bucket) for bucket in buckets)
    background = aggregations.get("background", {}).get("articles", {}).get("doc_count", 0)
    return TrendsResult(
        window_start=_iso(window_start) if window_start is not None else None, window_end=_iso(window_end),
        background_start=_iso(background_start) if background_start is not None else None,
        articles=int(body["hits"]["total"]["value"]), background_articles=int(background), fields=parsed,
    )


def _trend(bucket: Mapping[str, Any]) -> Trend:
    top: list[TrendStory] = []
    for story in (bucket.get("top_stories") or {}).get("buckets") or []:
        hits = story["copy"]["hits"]["hits"]
        source = hits[0]["_source"] if hits else {}
        top.append(TrendStory(
            story_id=str(story["key"]), copies=int(story["doc_count"]), title=source.get("title") or "",
            url=source.get("url") or "", source=source.get("source") or "",
            published_at=source.get("published_at") or "",
        ))
    return Trend(
        value=str(bucket["key"]), count=int(bucket["doc_count"]), background_count=int(bucket["bg_count"]),
        score=float(bucket["score"]), stories=int((bucket.get("stories") or {}).get("value") or 0),
        top_stories=tuple(top),
    )


def find_trends(
    client: Elasticsearch,
    settings: Settings,
    *,
    fields: Sequence[str] = TREND_FIELDS,
    window: timedelta | None = DEFAULT_WINDOW,
    background: timedelta | None = None,
    query: str = "*",
    filters: Sequence[tuple[str, str]] = (),
    size: int = DEFAULT_SIZE,
    stories: int = DEFAULT_STORIES,
    min_count: int = DEFAULT_MIN_COUNT,
    now: datetime | None = None,
) -> TrendsResult:
    """The trending values of `fields` among articles published within `window` (and matching
    `query` and `filters`; None: at any time) against the articles published within `background`
    (None: the whole index).

    Raises QueryError for a bad field, query or filter, SearchTimeout past `index.search_timeout`."""
    end = now or utc_now()
    start = end - window if window is not None else None
    background_start = end - background if background is not None else None
    request = build_trends_request(
        fields, window_start=start, background_start=background_start, query=query, filters=filters,
        size=size, stories=stories, min_count=min_count,
    )
    body = bounded_search(client, settings, query, size=0, track_total_hits=True, **request)
    return parse_trends(body, fields, window_start=start, window_end=end,
                        background_start=background_start)
