"""Parsed entries into Articles: clean text, canonical URL, stable id, UTC dates, language.

Choices (documented for users):
- `url` is the canonical form of the item's link, resolved against the item's xml:base, then the
  feed's link, then the feed URL. An item without a usable link gets a URL-like key instead:
  `<feed url>#guid=<guid>`, or `<feed url>#item=<hash of title and date>` without a guid; the key is
  both its `url` and the input of its id.
- `title` is one line of plain text, cut at 1,000 characters with an ellipsis. An item without a
  title gets the first words of its text (up to 120 characters); an item with no link, title or text
  at all is dropped with a warning.
- `body` is the richest content (content:encoded / atom:content / JSON content_html) as plain text
  with paragraphs separated by a blank line, else the summary's text.
- `published_at`: the item's published date, else its updated date, else the fetch time. A date
  more than FUTURE_SKEW (5 minutes: clocks differ) after the fetch time is the fetch time: an item
  dated years ahead would sort as the newest forever and move the feed's observed frequency.
- `language`: the item's, else the feed's, else the feeds file's hint; reduced to ISO 639-1.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.parse import ParsedEntry, ParsedFeed
from ingest.text import clean_title, html_to_text, truncate
from ingest.types import FeedSpec
from ingest.urls import canonical_url
from newsflow.core.models import Article, Enclosure, article_id_for

DERIVED_TITLE_CHARS = 120
SUMMARY_CHARS = 1_000  # a summary derived from the body is cut here
MAX_KEYWORD_CHARS = 200  # one author or category
FUTURE_SKEW = timedelta(minutes=5)  # an item dated later than fetch time + this gets the fetch time
_LANGUAGE = re.compile(r"^([a-zA-Z]{2})(?:[-_][a-zA-Z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What every item of one poll shares."""

    spec: FeedSpec
    fetch_url: str  # where the body actually came from (relative links resolve against it)
    fetched_at: datetime  # UTC
    source: str  # publisher name
    language: str  # the feed's language, else the spec's hint
    base: str  # the feed's link or the fetch URL


def context_for(spec: FeedSpec, feed: ParsedFeed, fetch_url: str, fetched_at: datetime) -> FeedContext:
    base_url = fetch_url if fetch_url.startswith(("http://", "https://")) else ""
    link = canonical_url(feed.link, base_url) if feed.link else ""
    source = spec.name or clean_title(feed.title) or _host(link or base_url) or spec.url
    return FeedContext(
        spec=spec, fetch_url=fetch_url, fetched_at=fetched_at, source=truncate(source, MAX_KEYWORD_CHARS),
        language=iso_language(feed.language) or iso_language(spec.language),
        base=link or base_url,
    )


def normalise_feed(
    spec: FeedSpec, feed: ParsedFeed, fetch_url: str, fetched_at: datetime
) -> tuple[tuple[Article, ...], tuple[str, ...]]:
    """Every usable item of a parsed feed as an Article, plus warnings about dropped items."""
    context = context_for(spec, feed, fetch_url, fetched_at)
    articles: list[Article] = []
    dropped = 0
    for entry in feed.entries:
        article = normalise_entry(entry, context)
        if article is None:
            dropped += 1
        else:
            articles.append(article)
    warnings = (f"{dropped} items had no link, title or text and were skipped",) if dropped else ()
    return tuple(articles), warnings


def normalise_entry(entry: ParsedEntry, context: FeedContext) -> Article | None:
    """One entry as an Article; None when it has nothing to show (no link, title or text)."""
    body = html_to_text(entry.content) if entry.content else ""
    summary_text = html_to_text(entry.summary, paragraphs=False) if entry.summary else ""
    if not body:
        body = html_to_text(entry.summary) if entry.summary else ""
    if not summary_text and body:
        summary_text = truncate(" ".join(body.split()), SUMMARY_CHARS)
    title = clean_title(entry.title)
    link = _resolve_link(entry, context)
    if not title:
        title = _derived_title(summary_text or body)
    if not title and not link and not body:
        return None
    url = link or _item_key(entry, context, title)
    published = entry.published or entry.updated or context.fetched_at
    if published > context.fetched_at + FUTURE_SKEW:  # clocks, typos and tricks put items ahead
        published = context.fetched_at
    return Article(
        id=article_id_for(url),
        url=url,
        title=title,
        summary=summary_text,
        body=body,
        source=context.source,
        feed_url=context.spec.url,
        published_at=published,
        ingested_at=context.fetched_at,
        language=iso_language(entry.language) or context.language,
        authors=_keywords(entry.authors),
        categories=_keywords(entry.categories),
        enclosures=_enclosures(entry.enclosures, context),
        guid=truncate(html_to_text(entry.guid, paragraphs=False), MAX_KEYWORD_CHARS),
    )


def iso_language(value: str) -> str:
    """'en-US' -> 'en'; '' for anything that is not a language tag."""
    match = _LANGUAGE.match(value.strip()) if value else None
    return match.group(1).lower() if match else ""


def _resolve_link(entry: ParsedEntry, context: FeedContext) -> str:
    if not entry.link:
        return ""
    base = entry.base or context.base
    if base and not base.startswith(("http://", "https://")):
        base = context.base
    return canonical_url(entry.link, base)


def _item_key(entry: ParsedEntry, context: FeedContext, title: str) -> str:
    if entry.guid:
        return f"{context.spec.url}#guid={entry.guid.strip()}"
    date = entry.published or entry.updated
    digest = hashlib.sha256(f"{title}\n{date.isoformat() if date else ''}".encode()).hexdigest()[:16]
    return f"{context.spec.url}#item={digest}"


def _derived_title(text: str) -> str:
    if not text:
        return ""
    first = text.split("\n\n", 1)[0]
    if len(first) <= DERIVED_TITLE_CHARS:
        return first
    cut = first[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def _keywords(values: tuple[str, ...]) -> tuple[str, ...]:
    cleaned: list[str] = []
    for value in values:
        text = truncate(html_to_text(value, paragraphs=False), MAX_KEYWORD_CHARS)
        if text and text not in cleaned:
            cleaned.append(text)
    return tuple(cleaned)


def _enclosures(enclosures: tuple[Enclosure, ...], context: FeedContext) -> tuple[Enclosure, ...]:
    kept: list[Enclosure] = []
    for enclosure in enclosures:
        url = canonical_url(enclosure.url, context.base)
        if url:
            kept.append(Enclosure(url=url, type=enclosure.type[:100], length=enclosure.length))
    return tuple(kept)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""
