"""The article model that flows from parsing to the index, and the small value types around it.

One frozen `Article` is built by ingest (normalisation), extended by enrich with
`dataclasses.replace`, and written by index as an Elasticsearch document (`to_document`).
Datetimes are always timezone-aware UTC.

The content hash is computed once per content: on first use, then carried by `dataclasses.replace`
to the enriched copies for as long as the fields it covers are the very same objects (a replaced
title or body is a new object, so its hash is computed afresh).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The current time in UTC; the one clock the stages read (tests may pass their own times)."""
    return datetime.now(UTC)


def article_id_for(url: str) -> str:
    """The stable id of an article: a hash of its canonical URL.

    The same article reached through several feeds, or polled again, gets the same id, so indexing
    is idempotent. Items without a link get a URL-like key built by ingest (feed URL + guid).
    """
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A media file attached to an item (podcast audio, image, video)."""

    url: str
    type: str = ""  # MIME type as the feed gives it, possibly empty
    length: int | None = None  # bytes, when the feed says


@dataclass(frozen=True, slots=True)
class TopicScore:
    """One IPTC Media Topic with the classifier's score (0..1) for an article."""

    label: str  # IPTC English label, e.g. "politics" or "conflict, war and peace"
    score: float
    qcode: str = ""  # e.g. "medtop:11000000"


@dataclass(frozen=True, slots=True)
class _ContentHash:
    """An article's content hash and the field values it was computed from."""

    fields: tuple[object, ...]  # the values of the content fields, compared by identity
    value: str


def _content_fields(article: Article) -> tuple[object, ...]:
    """What a reader sees: the fields the content hash covers."""
    return (article.url, article.title, article.summary, article.body, article.authors,
            article.categories, article.published_at)


def content_hash_of(article: Article) -> str:
    """The content hash of an article's content fields (json.dumps + SHA-256); `Article.content_hash`
    computes it once and carries it."""
    payload = json.dumps(
        [article.url, article.title, article.summary, article.body, list(article.authors),
         list(article.categories), article.published_at.isoformat()],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Article:
    """A news article: normalised content from a feed plus what enrichment adds.

    Content fields are set by ingest; the enrichment fields default to empty and are filled by enrich.
    """

    id: str  # stable id, see article_id_for
    url: str  # canonical URL: tracking parameters and fragment removed
    title: str  # clean text
    summary: str  # clean text
    body: str  # clean text, paragraphs separated by a blank line; the fullest text known
    source: str  # publisher name (the feed's configured name or its own title)
    feed_url: str  # the feed the article came from
    published_at: datetime  # UTC; falls back to updated, then fetch time; never in the future
    ingested_at: datetime  # UTC, when this copy was fetched
    language: str = ""  # ISO 639-1, from the item, the feed or detection
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # as given by the feed
    enclosures: tuple[Enclosure, ...] = ()
    guid: str = ""  # the feed's own id for the item, if any
    # --- enrichment ---
    persons: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    # Every spelling of those entities (canonical names, the entity table's aliases, the article's own
    # forms): what a query on persons/organizations/locations searches (newsflow/index/entity_query.py).
    persons_alias: tuple[str, ...] = ()
    organizations_alias: tuple[str, ...] = ()
    locations_alias: tuple[str, ...] = ()
    geo: tuple[tuple[float, float], ...] = ()  # (lat, lon) of the locations the gazetteer places
    credit: tuple[str, ...] = ()  # the outlet that originally wrote it, from its credit lines ("Bloomberg")
    distributor: tuple[str, ...] = ()  # the agency that distributed it ("Tribune Content Agency")
    topics: tuple[str, ...] = ()  # labels over the threshold
    topic_scores: tuple[TopicScore, ...] = ()  # every scored label, for inspection and recalibration
    story_id: str = ""  # shared by near-duplicate copies of one story
    story_signature: tuple[int, ...] = ()  # MinHash signature used to match later copies
    story_bands: tuple[str, ...] = ()  # LSH band keys of the signature: candidates share one
    enrichment_version: str = ""  # which enrichment produced the fields above
    extra: Mapping[str, Any] = field(default_factory=dict)  # stage-specific data, not indexed
    # The content hash once computed, with what it was computed from: `dataclasses.replace` passes it
    # on, and __post_init__ drops it when a content field is no longer the same object. Not content.
    _content_hash: _ContentHash | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        carried = self._content_hash
        if carried is not None and not all(
                old is new for old, new in zip(carried.fields, _content_fields(self), strict=True)):
            object.__setattr__(self, "_content_hash", None)

    @property
    def content_hash(self) -> str:
        """A hash of what a reader sees; volatile fields (fetch time, enrichment) are left out.

        Two polls of an unchanged item give the same hash; an edited title or body changes it.
        Computed on first use and carried to the copies `dataclasses.replace` makes of this article.
        """
        carried = self._content_hash
        if carried is None:
            carried = _ContentHash(_content_fields(self), content_hash_of(self))
            object.__setattr__(self, "_content_hash", carried)
        return carried.value

    @property
    def word_count(self) -> int:
        return len(self.title.split()) + len(self.body.split() or self.summary.split())

    def to_document(self) -> dict[str, Any]:
        """The Elasticsearch document (field names per the user-facing contract)."""
        return {
            "title": self.title,
            "summary": self.summary,
            "body": self.body,
            "url": self.url,
            "source": self.source,
            "feed_url": self.feed_url,
            "published_at": _iso(self.published_at),
            "ingested_at": _iso(self.ingested_at),
            "language": self.language or None,
            "authors": list(self.authors),
            "categories": list(self.categories),
            "enclosures": [
                {"url": e.url, "type": e.type, "length": e.length} for e in self.enclosures
            ],
            "guid": self.guid or None,
            "persons": list(self.persons),
            "organizations": list(self.organizations),
            "locations": list(self.locations),
            "persons_alias": list(self.persons_alias),
            "organizations_alias": list(self.organizations_alias),
            "locations_alias": list(self.locations_alias),
            "geo": [{"lat": lat, "lon": lon} for lat, lon in self.geo],
            "credit": list(self.credit),
            "distributor": list(self.distributor),
            "topics": list(self.topics),
            "topic_scores": [
                {"label": t.label, "score": round(t.score, 4), "qcode": t.qcode}
                for t in self.topic_scores
            ],
            "story_id": self.story_id or None,
            "story_signature": list(self.story_signature),
            "story_bands": list(self.story_bands),
            "content_hash": self.content_hash,
            "enrichment_version": self.enrichment_version or None,
            "word_count": self.word_count,
        }

    @classmethod
    def from_document(cls, doc_id: str, doc: Mapping[str, Any]) -> Article:
        """Rebuild an article from its stored document (for re-enrichment and alerts)."""
        return cls(
            id=doc_id,
            url=doc["url"],
            title=doc.get("title") or "",
            summary=doc.get("summary") or "",
            body=doc.get("body") or "",
            source=doc.get("source") or "",
            feed_url=doc.get("feed_url") or "",
            published_at=parse_utc(doc["published_at"]),
            ingested_at=parse_utc(doc.get("ingested_at") or doc["published_at"]),
            language=doc.get("language") or "",
            authors=tuple(doc.get("authors") or ()),
            categories=tuple(doc.get("categories") or ()),
            enclosures=tuple(
                Enclosure(url=e["url"], type=e.get("type") or "", length=e.get("length"))
                for e in doc.get("enclosures") or ()
            ),
            guid=doc.get("guid") or "",
            persons=tuple(doc.get("persons") or ()),
            organizations=tuple(doc.get("organizations") or ()),
            locations=tuple(doc.get("locations") or ()),
            persons_alias=tuple(doc.get("persons_alias") or ()),
            organizations_alias=tuple(doc.get("organizations_alias") or ()),
            locations_alias=tuple(doc.get("locations_alias") or ()),
            geo=tuple((float(p["lat"]), float(p["lon"])) for p in doc.get("geo") or ()),
            credit=tuple(doc.get("credit") or ()),
            distributor=tuple(doc.get("distributor") or ()),
            topics=tuple(doc.get("topics") or ()),
            topic_scores=tuple(
                TopicScore(label=t["label"], score=float(t["score"]), qcode=t.get("qcode") or "")
                for t in doc.get("topic_scores") or ()
            ),
            story_id=doc.get("story_id") or "",
            story_signature=tuple(doc.get("story_signature") or ()),
            story_bands=tuple(doc.get("story_bands") or ()),
            enrichment_version=doc.get("enrichment_version") or "",
        )


def format_utc(value: datetime) -> str:
    """An aware datetime as stored: ISO 8601 in UTC with a `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_iso = format_utc


def parse_utc(value: str | datetime) -> datetime:
    """Parse an ISO 8601 timestamp (as stored) into an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
