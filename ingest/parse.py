"""Feed bodies into parse-side values: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 via feedparser, JSON Feed
1.0/1.1 with a reader of our own (feedparser does not read it).

Parsed values keep the feed's raw strings (HTML included); `ingest.normalise` turns them into clean
articles. A malformed feed yields what can be recovered (with a warning); a body that yields no feed
at all raises ParseError with the reason.

Speed: feedparser runs with `sanitize_html=False, resolve_relative_uris=False` (its hot spots,
feedparser issue #209); we never keep HTML anyway, and links are resolved during normalisation.
Safety: feedparser replaces the DOCTYPE and keeps only simple entity declarations, so an
entity-expansion bomb does not expand and an external entity is never read (tested).
Numbers and dates are the feed's word, so a bad one never fails the feed: `<ttl>` and
`sy:updateFrequency` are whole numbers clamped to MAX_DECLARED_SECONDS (one year) and
MAX_UPDATE_FREQUENCY, an enclosure length over 2**53 is dropped, an unreadable or out-of-range date
is dropped (the item keeps its other date, or the fetch time); each kind of drop is one warning.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from newsflow.core.errors import ParseError
from newsflow.core.models import Enclosure

# Comments are matched possessively and without "-->" inside: `(<!--.*?-->\s*)*` could split a run
# of comments in exponentially many ways before failing (256 comments never finished).
_HTML_START = re.compile(rb"\s*(?:<!--(?:[^-]|-(?!->))*+-->\s*)*+"
                         rb"(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One item as the feed gives it (raw strings; HTML not yet removed)."""

    guid: str = ""
    link: str = ""
    title: str = ""
    summary: str = ""
    content: str = ""  # the richest body: content:encoded / atom:content / JSON content_html
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    language: str = ""
    published: datetime | None = None  # None when missing or unparseable
    updated: datetime | None = None
    base: str = ""  # xml:base of the item, for relative links


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed as parsed: its own metadata, polling hints and entries."""

    format: str  # feedparser's version ("rss20", "atom10", ...) or "json10"/"json11"
    title: str = ""
    link: str = ""
    language: str = ""
    entries: tuple[ParsedEntry, ...] = ()
    ttl: float | None = None  # seconds, from <ttl>
    update_period: float | None = None  # seconds, from sy:updatePeriod / sy:updateFrequency
    warnings: tuple[str, ...] = ()  # what was wrong but recovered (a malformed feed)
    hubs: tuple[str, ...] = ()  # WebSub hubs the feed announces (<link rel="hub">, JSON Feed "hubs")
    self_url: str = ""  # the feed's own URL as it declares it (<link rel="self">, JSON "feed_url")


MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024  # a gzip body inflating beyond this is refused
MAX_DECLARED_SECONDS = 366 * 86400.0  # a longer <ttl> or sy:updatePeriod is read as this
MAX_UPDATE_FREQUENCY = 1_000_000  # sy:updateFrequency above this is read as this
MAX_LENGTH = 2**53  # an enclosure length above this (bytes) is not a length: dropped
_WHOLE_NUMBER = re.compile(r"\s*\+?(\d+)\s*")
# The internal DTD subset of a DOCTYPE near the start of a body, and the entities it declares.
_PROLOG_BYTES = 64 * 1024
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*(\[)")  # matched once, at the first DOCTYPE
_ENTITY = re.compile(rb"""<!ENTITY\s+(%\s+)?[^\s>]+\s+(?:(SYSTEM|PUBLIC)\b|"([^"]*)"|'([^']*)')""")
_DECLARED_ENCODING = re.compile(r"""(\A\s*<\?xml[^>]{0,200}?encoding\s*=\s*["'])[^"']{0,50}(["'])""")
_REFERENCE = re.compile(rb"&(?!#)|%")  # an entity in an entity (character references are fine)
MAX_ENTITY_CHARS = 256  # a declared entity longer than this is an expansion attack, not a feed's


def decompress(body: bytes, *, url: str = "", max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Undo a gzip layer left on a body (saved .xml.gz files, servers that compress twice),
    stopping at `max_bytes` so a compression bomb cannot exhaust memory."""
    if body[:2] != b"\x1f\x8b":
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise ParseError(url, f"corrupt gzip body: {exc}") from exc
    if len(data) > max_bytes:
        raise ParseError(url, f"gzip body inflates to over {max_bytes} bytes (fetch.max_body_bytes)")
    return data


def parse_feed(body: bytes, *, url: str = "", content_type: str = "",
               max_bytes: int = MAX_DECOMPRESSED_BYTES) -> ParsedFeed:
    """Parse a feed body of any supported format. Raises ParseError when nothing can be recovered."""
    body = decompress(body, url=url, max_bytes=max_bytes)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ParseError(url, "empty body: the server sent no feed")
    if stripped[:1] in (b"{", b"["):
        return parse_json_feed(stripped, url=url)
    return _parse_xml_feed(body, url=url, content_type=content_type)


def _defuse_entities(body: bytes) -> tuple[bytes, tuple[str, ...]]:
    """Remove a DOCTYPE's internal subset when it declares entities that can blow up or leak:
    external (SYSTEM/PUBLIC, XXE), parameter entities, long values, or values referring to other
    entities (billion laughs). Expat would otherwise expand up to 100 times the body (its
    amplification limit), 1 GB from a 10 MiB feed. Their references stay unexpanded."""
    prolog = body[:_PROLOG_BYTES]
    # Only the first DOCTYPE counts (expat reads no other); searching for every one would rescan
    # the rest of the prolog at each of thousands of "<!DOCTYPE"s.
    first = prolog.find(b"<!DOCTYPE")
    doctype = _INTERNAL_SUBSET.match(prolog, first) if first >= 0 else None
    if doctype is None:
        return body, ()
    start = doctype.start(1)
    end = body.find(b"]", start)
    end = body.find(b">", end) if end >= 0 else -1
    if end < 0:
        return body, ()
    subset = body[start:end]
    dangerous = any(
        match.group(1) or match.group(2) or len(value) > MAX_ENTITY_CHARS or _REFERENCE.search(value)
        for match in _ENTITY.finditer(subset)
        for value in [match.group(3) or match.group(4) or b""]
    )
    if not dangerous:
        return body, ()
    return body[:start] + body[end:], (
        "ignored the DOCTYPE's entity declarations (external, nested or oversized entities)",)


def _honour_utf16_bom(body: bytes) -> bytes:
    """A UTF-16 byte-order mark decides the encoding (XML 1.0, appendix F), whatever the
    declaration says; expat would stop at the first byte of a body declared utf-8 but sent as
    UTF-16. Transcoded to UTF-8, with the declaration made true."""
    if body[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        return body
    try:
        text = body.decode("utf-16")
    except UnicodeDecodeError:
        return body
    return _DECLARED_ENCODING.sub(r"\1utf-8\2", text.lstrip("\ufeff"), count=1).encode("utf-8")


def _parse_xml_feed(body: bytes, *, url: str, content_type: str) -> ParsedFeed:
    body, defused = _defuse_entities(_honour_utf16_bom(body))
    # No Content-Location: feedparser would resolve a non-URL guid ("g-7") into a link. Relative
    # links are resolved during normalisation instead (item xml:base, feed link, feed URL).
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers,
                                  sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser should not raise, but a parser bug must not sink the cycle
        raise ParseError(url, f"the feed parser failed: {type(exc).__name__}: {exc}") from exc
    feed = parsed.get("feed", {})
    entries = parsed.get("entries", [])
    version = parsed.get("version", "") or ""
    if not version and not entries:
        if _HTML_START.match(body[:2048]):
            raise ParseError(url, "the server returned an HTML page, not a feed")
        problem = parsed.get("bozo_exception")
        detail = f": {problem}" if problem else ""
        raise ParseError(url, f"not an RSS, Atom or JSON feed{detail}")
    warnings: tuple[str, ...] = ()
    if parsed.get("bozo") and parsed.get("bozo_exception") is not None:
        damage = parsed["bozo_exception"]
        # Encoding overrides and a missing Content-Type are feedparser notes, not damage.
        if not isinstance(damage, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
            warnings = (f"malformed feed, recovered what could be read: {damage}",)
    ttl, ttl_warning = _declared_minutes(feed.get("ttl"))
    period, period_warning = _update_period(feed.get("sy_updateperiod"), feed.get("sy_updatefrequency"))
    bad_dates = sum(1 for entry in entries for name in ("published", "updated")
                    if _own(entry, name) and _struct_time(_own(entry, f"{name}_parsed")) is None)
    date_warning = (f"{bad_dates} item dates could not be read or were out of range and were ignored",
                    ) if bad_dates else ()
    return ParsedFeed(
        format=version or "unknown",
        title=str(feed.get("title", "") or ""),
        link=str(feed.get("link", "") or ""),
        language=str(feed.get("language", "") or ""),
        entries=tuple(_xml_entry(entry) for entry in entries),
        ttl=ttl,
        update_period=period,
        warnings=defused + warnings + ttl_warning + period_warning + date_warning,
        hubs=_feed_links(feed.get("links"), "hub"),
        self_url=next(iter(_feed_links(feed.get("links"), "self")), ""),
    )


def _feed_links(links: Any, rel: str) -> tuple[str, ...]:
    """The feed-level link targets of one relation, in document order, without repeats."""
    found = [str(link.get("href") or "").strip() for link in links or ()
             if isinstance(link, Mapping) and str(link.get("rel") or "").lower() == rel]
    return tuple(dict.fromkeys(href for href in found if href))


def _xml_entry(entry: Mapping[str, Any]) -> ParsedEntry:
    content = _richest_content(entry.get("content") or ())
    summary = str(entry.get("summary", "") or "")
    authors = _names(entry.get("authors") or ())
    if not authors and entry.get("author"):
        authors = (str(entry["author"]),)
    categories = tuple(
        str(tag.get("term") or tag.get("label") or "") for tag in entry.get("tags") or ()
        if tag.get("term") or tag.get("label")
    )
    enclosures = tuple(
        Enclosure(url=str(link.get("href") or ""), type=str(link.get("type") or ""),
                  length=_length(link.get("length")))
        for link in entry.get("links") or ()
        if link.get("rel") == "enclosure" and link.get("href")
    ) + tuple(
        Enclosure(url=str(media.get("url")), type=str(media.get("type") or ""),
                  length=_length(media.get("filesize") or media.get("fileSize")))
        for media in entry.get("media_content") or ()
        if media.get("url")
    ) + tuple(
        Enclosure(url=str(thumb.get("url")), type="image")
        for thumb in entry.get("media_thumbnail") or ()
        if thumb.get("url")
    )
    title_detail = entry.get("title_detail") or {}
    guid = str(entry.get("id", "") or "")
    link = str(entry.get("link", "") or "")
    if entry.get("guidislink") and link == guid and not guid.lower().startswith(("http://", "https://")):
        link = ""  # the link came from an RSS guid (a permalink by default), but "g-7" is no link
    return ParsedEntry(
        guid=guid,
        link=link,
        title=str(entry.get("title", "") or ""),
        summary=summary if summary != content else "",
        content=content,
        authors=authors,
        categories=categories,
        enclosures=_unique_enclosures(enclosures),
        language=str(title_detail.get("language") or ""),
        published=_struct_time(entry.get("published_parsed")),
        updated=_struct_time(_own(entry, "updated_parsed")),
        base=str(title_detail.get("base") or ""),
    )


def _own(entry: Mapping[str, Any], key: str) -> Any:
    """The entry's own value for `key`. feedparser's `entry["updated"]` falls back to "published"
    when the item has no update date (with a DeprecationWarning: the fallback is to be removed)."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _richest_content(contents: Sequence[Mapping[str, Any]]) -> str:
    values = [str(c.get("value") or "") for c in contents]
    return max(values, key=len) if values else ""


def _names(people: Sequence[Any]) -> tuple[str, ...]:
    names: list[str] = []
    for person in people:
        name = person.get("name") or person.get("email") if isinstance(person, Mapping) else person
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return tuple(names)


def _unique_enclosures(enclosures: tuple[Enclosure, ...]) -> tuple[Enclosure, ...]:
    seen: dict[str, Enclosure] = {}
    for enclosure in enclosures:
        seen.setdefault(enclosure.url, enclosure)
    return tuple(seen.values())


def _struct_time(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:  # feedparser's struct_time is UTC
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _whole_number(value: Any, ceiling: int) -> int | None:
    """A non-negative whole number as a feed writes it ("45", " +3 "), at most `ceiling`; None
    for anything else. Never converts 400 digits into an int (or a float that overflows)."""
    match = _WHOLE_NUMBER.fullmatch(str(value)) if value is not None else None
    if match is None:
        return None
    digits = match.group(1).lstrip("0") or "0"
    return ceiling if len(digits) > len(str(ceiling)) else min(int(digits), ceiling)


def _int(value: Any) -> int | None:
    return _whole_number(value, MAX_LENGTH) if value is not None else None


def _length(value: Any) -> int | None:
    number = _int(value)
    return number if number is not None and number < MAX_LENGTH else None


def _declared_minutes(value: Any) -> tuple[float | None, tuple[str, ...]]:
    """<ttl> in seconds (clamped to MAX_DECLARED_SECONDS), and a warning when it was unusable."""
    if value is None or not str(value).strip():
        return None, ()
    minutes = _whole_number(value, int(MAX_DECLARED_SECONDS // 60))
    if minutes is None:
        return None, (f"ignored <ttl> {_shown(value)}: not a whole number of minutes",)
    return (minutes * 60.0 or None), ()


_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0, "monthly": 30 * 86400.0,
            "yearly": 365 * 86400.0}


def _update_period(period: Any, frequency: Any) -> tuple[float | None, tuple[str, ...]]:
    if not period:
        return None, ()
    seconds = _PERIODS.get(str(period).strip().lower())
    if seconds is None:
        return None, (f"ignored sy:updatePeriod {_shown(period)}: not hourly, daily, weekly, monthly "
                      "or yearly",)
    times = _whole_number(frequency, MAX_UPDATE_FREQUENCY) if frequency is not None else 1
    warning: tuple[str, ...] = ()
    if times is None or times == 0:
        if frequency is not None and str(frequency).strip():
            warning = (f"ignored sy:updateFrequency {_shown(frequency)}: not a positive whole number",)
        times = 1
    return min(seconds / times, MAX_DECLARED_SECONDS), warning


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")


# --- JSON Feed -----------------------------------------------------------------------------------

def parse_json_feed(body: bytes, *, url: str = "") -> ParsedFeed:
    """Read JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1). Items that are not objects are skipped."""
    try:
        # A number of thousands of digits is over Python's int limit (ValueError for the whole
        # feed): long ones are read as floats (inf at worst), then ignored or clamped per field.
        data = json.loads(body.decode("utf-8-sig", errors="replace"), strict=False,
                          parse_int=lambda digits: int(digits) if len(digits) <= 18 else float(digits))
    except (ValueError, RecursionError) as exc:
        raise ParseError(url, f"invalid JSON feed: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError(url, "JSON document is not a JSON Feed (no 'items' list)")
    version = str(data.get("version", ""))
    fmt = "json11" if version.endswith("/1.1") else "json10"
    feed_authors = _json_authors(data)
    items = [item for item in data["items"] if isinstance(item, dict)]
    entries = tuple(_json_entry(item, feed_authors) for item in items)
    skipped = len(data["items"]) - len(entries)
    warnings: tuple[str, ...] = (
        (f"{skipped} JSON Feed items were not objects and were skipped",) if skipped else ())
    bad_dates = sum(1 for item in items for name in ("date_published", "date_modified")
                    if item.get(name) is not None and _iso_date(item.get(name)) is None)
    if bad_dates:
        warnings += (f"{bad_dates} item dates could not be read or were out of range and were ignored",)
    return ParsedFeed(
        format=fmt,
        title=_str(data.get("title")),
        link=_str(data.get("home_page_url")),
        language=_str(data.get("language")),
        entries=entries,
        warnings=warnings,
        hubs=_json_hubs(data.get("hubs")),
        self_url=_str(data.get("feed_url")),
    )


def _json_hubs(hubs: Any) -> tuple[str, ...]:
    """JSON Feed's "hubs": [{"type": "WebSub", "url": ...}, ...] -> the URLs, without repeats."""
    listed = hubs if isinstance(hubs, list) else []
    found = [_str(hub.get("url")) for hub in listed if isinstance(hub, dict)]
    return tuple(dict.fromkeys(url for url in found if url))


def _json_entry(item: Mapping[str, Any], feed_authors: tuple[str, ...]) -> ParsedEntry:
    content = _str(item.get("content_html")) or _escape_text(_str(item.get("content_text")))
    tags = item.get("tags")
    attachments = item.get("attachments")
    enclosures = tuple(
        Enclosure(url=_str(a.get("url")), type=_str(a.get("mime_type")),
                  length=_length(a.get("size_in_bytes")))
        for a in (attachments if isinstance(attachments, list) else ())
        if isinstance(a, dict) and _str(a.get("url"))
    )
    image = _str(item.get("image")) or _str(item.get("banner_image"))
    if image:
        enclosures += (Enclosure(url=image, type="image"),)
    return ParsedEntry(
        guid=_str(item.get("id")),
        link=_str(item.get("url")) or _str(item.get("external_url")),
        title=_str(item.get("title")),
        summary=_str(item.get("summary")),
        content=content,
        authors=_json_authors(item) or feed_authors,
        categories=tuple(_str(t) for t in tags if _str(t)) if isinstance(tags, list) else (),
        enclosures=_unique_enclosures(enclosures),
        language=_str(item.get("language")),
        published=_iso_date(item.get("date_published")),
        updated=_iso_date(item.get("date_modified")),
    )


def _json_authors(node: Mapping[str, Any]) -> tuple[str, ...]:
    people = node.get("authors")
    if not isinstance(people, list):
        single = node.get("author")  # JSON Feed 1.0
        people = [single] if isinstance(single, dict) else []
    return _names([p for p in people if isinstance(p, dict)])


def _str(value: Any) -> str:
    if value is None or isinstance(value, dict | list | bool | float):
        return ""  # a float is never a title or URL (and may be inf or nan)
    return str(value)


def _escape_text(text: str) -> str:
    # content_text is plain text: keep its line breaks as paragraphs when it goes through html_to_text.
    if not text:
        return ""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(f"<p>{line}</p>" for line in escaped.split("\n") if line.strip())


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)  # 9999-12-31T23:00-05:00 is past datetime's range in UTC
    except (ValueError, OverflowError):
        return None
