"""A search as an Atom 1.0 feed (RFC 4287), so any feed reader can follow it.

`newsflow search QUERY --format atom` prints the hits as entries, newest search results in the
search's own order. Ids are name-based UUIDs (`urn:uuid:`, RFC 4122 version 5) and stable: an
article's entry id depends only on the article id, a feed's id only on the index prefix and the search
(query, filters, window, by-story), so a reader polling the same search sees the same feed and
recognises the entries it has shown already.

Entry `updated` is when newsflow fetched the article's current version (`ingested_at`: an edited
article moves up in readers that sort by it), `published` its publication time. Text goes through
ElementTree (escaped) after dropping the characters XML 1.0 cannot carry at all.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from newsflow.core.models import format_utc, parse_utc
from newsflow.index.search import SearchHit

ATOM_NS = "http://www.w3.org/2005/Atom"
# The names hashed into the ids: "newsflow:article:<id>", "newsflow:search:<json>".
_ID_NAMESPACE = uuid.NAMESPACE_URL
FEED_AUTHOR = "newsflow"  # the feed's author: covers entries whose article names nobody
# Characters outside XML 1.0's Char production (control characters, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def article_entry_id(article_id: str) -> str:
    return uuid.uuid5(_ID_NAMESPACE, f"newsflow:article:{article_id}").urn


def search_feed_id(prefix: str, query: str, filters: Sequence[tuple[str, str]] = (), since: str = "",
                   by_story: bool = False) -> str:
    """The feed id of a search: the same search under the same prefix, the same id."""
    key = json.dumps([prefix, query, sorted(filters), since, by_story], ensure_ascii=False)
    return uuid.uuid5(_ID_NAMESPACE, f"newsflow:search:{key}").urn


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _timestamp(value: str, fallback: datetime) -> str:
    """An RFC 3339 date-time (UTC, `Z`, whole seconds) for a stored timestamp; `fallback` when missing
    or unreadable."""
    try:
        moment = parse_utc(value) if value else fallback
    except ValueError:
        moment = fallback
    return format_utc(moment.replace(microsecond=0))


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: _clean(v) for k, v in attributes.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def atom_feed(
    hits: Sequence[SearchHit],
    *,
    title: str,
    feed_id: str,
    now: datetime,
    subtitle: str = "",
    self_url: str = "",
) -> str:
    """The Atom document (UTF-8 XML text) of `hits`: pure.

    The feed's `updated` is the newest entry's (or `now` when there are none), so an unchanged
    search gives an unchanged feed."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _add(feed, "id", feed_id)
    _add(feed, "title", title, type="text")
    if subtitle:
        _add(feed, "subtitle", subtitle, type="text")
    entries_updated = [_timestamp(h.ingested_at or h.published_at, now) for h in hits]
    _add(feed, "updated", max(entries_updated) if entries_updated else _timestamp("", now))
    author = _add(feed, "author")
    _add(author, "name", FEED_AUTHOR)
    _add(feed, "generator", "newsflow")
    if self_url:
        _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    for hit, updated in zip(hits, entries_updated, strict=True):
        entry = _add(feed, "entry")
        _add(entry, "id", article_entry_id(hit.id))
        _add(entry, "title", hit.title or hit.url, type="text")
        _add(entry, "updated", updated)
        _add(entry, "published", _timestamp(hit.published_at, now))
        if hit.url:
            _add(entry, "link", rel="alternate", type="text/html", href=hit.url)
        for name in hit.authors or ((hit.source,) if hit.source else ()):
            _add(_add(entry, "author"), "name", name)
        _add(entry, "summary", hit.summary or hit.title, type="text")
        if hit.source:
            _add(entry, "category", term=hit.source, label=f"source: {hit.source}")
        if hit.story_id:
            _add(entry, "category", term=f"story:{hit.story_id}", label="story")
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"
