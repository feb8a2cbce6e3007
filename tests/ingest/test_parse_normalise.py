"""Parsing and normalisation: golden feeds, broken feeds, hostile content, big feeds, the
feedparser test corpus."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from ingest.normalise import FUTURE_SKEW, normalise_feed
from ingest.parse import MAX_DECLARED_SECONDS, MAX_UPDATE_FREQUENCY, parse_feed
from ingest.types import FeedSpec
from newsflow.core.errors import ParseError
from newsflow.dev.bench_ingest import parse_throughput
from tests.conftest import CORPUS
from tests.ingest.conftest import REAL_FEEDS, item, rss
from tests.ingest.golden_support import CASES, articles_as_json, expected_path

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
SPEC = FeedSpec(url="http://example.com/feed.xml")


def articles_of(body: bytes, spec: FeedSpec = SPEC):  # type: ignore[no-untyped-def]
    feed = parse_feed(body, url=spec.url)
    articles, warnings = normalise_feed(spec, feed, spec.url, NOW)
    return feed, articles, warnings


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_feed_gives_the_expected_articles(name: str) -> None:
    expected = json.loads(expected_path(name).read_text(encoding="utf-8"))
    assert articles_as_json(name) == expected


def test_ttl_and_syndication_hints_are_read() -> None:
    extra = ("<ttl>45</ttl><sy:updatePeriod xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'>"
             "daily</sy:updatePeriod><sy:updateFrequency xmlns:sy='http://purl.org/rss/1.0/modules/"
             "syndication/'>4</sy:updateFrequency>")
    feed = parse_feed(rss(item(1), extra=extra))
    assert feed.ttl == 45 * 60
    assert feed.update_period == 86400 / 4


def test_malformed_xml_yields_what_can_be_recovered_with_a_warning() -> None:
    broken = rss(item(1), item(2)).replace(b"</channel></rss>", b"<item><title>unclosed &bogus; <b></item>")
    feed, articles, _ = articles_of(broken)
    assert [a.title for a in articles][:2] == ["Story 1", "Story 2"]
    assert feed.warnings and "malformed" in feed.warnings[0]


@pytest.mark.parametrize("body", [
    '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>T</title>'
    "<item><title>Caf\u00e9 cr\u00e8me</title><link>http://e.com/1</link></item></channel></rss>",
    '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    "<item><title>Caf\u00e9 cr\u00e8me</title><link>http://e.com/1</link></item></channel></rss>",
])
def test_wrong_or_missing_encoding_declarations_still_give_the_text(body: str) -> None:
    # The first declares latin-1 but is UTF-8; the second declares nothing and is latin-1.
    encoded = body.encode("utf-8") if "iso-8859-1" in body else body.encode("latin-1")
    _, articles, _ = articles_of(encoded)
    assert articles[0].title == "Café crème"


def test_utf8_declared_as_latin1_is_decoded_as_utf8_when_possible() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            "<item><title>Caf\u00e9</title><link>http://e.com/1</link></item></channel></rss>").encode()
    _, articles, _ = articles_of(body)
    assert articles[0].title == "Café"


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty body"),
    (b"   \n  ", "empty body"),
    (b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>",
     "HTML page"),
    (b"this is not a feed at all", "not an RSS, Atom or JSON feed"),
    (b'{"hello": "world"}', "not a JSON Feed"),
])
def test_bodies_that_are_not_feeds_fail_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_feed(body, url=SPEC.url)


def test_an_entity_expansion_bomb_does_not_expand() -> None:
    levels = ['<!ENTITY a "' + "a" * 50 + '">']
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        levels.append(f'<!ENTITY {level} "' + f"&{previous};" * 20 + '">')
    bomb = (f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(levels)}]><rss version="2.0"><channel>'
            "<title>T &j;</title><item><title>Boom &j;</title><link>http://e.com/1</link></item>"
            "</channel></rss>").encode()
    feed, articles, _ = articles_of(bomb)
    assert len(feed.title) < 100
    assert all(len(a.title) < 100 for a in articles)


def test_invalid_dates_fall_back_to_updated_then_fetch_time_and_future_dates_are_clamped() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><title>only updated</title><link href="http://e.com/1"/><id>1</id>
        <published>31st of Smarch</published><updated>2024-03-01T10:00:00+05:00</updated></entry>
      <entry><title>no dates</title><link href="http://e.com/2"/><id>2</id></entry>
      <entry><title>future</title><link href="http://e.com/3"/><id>3</id>
        <published>2999-01-01T00:00:00Z</published></entry></feed>"""
    _, articles, _ = articles_of(atom)
    assert [a.published_at for a in articles] == [datetime(2024, 3, 1, 5, 0, tzinfo=UTC), NOW, NOW]


def test_items_without_link_or_title_get_a_key_and_a_derived_title() -> None:
    body = rss("<item><title>No link here</title><guid isPermaLink='false'>g-1</guid></item>",
               "<item><link>http://example.com/untitled</link>"
               "<description>Body words only</description></item>",
               "<item><title>Neither</title></item>",
               "<item><pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate></item>")
    _, articles, warnings = articles_of(body)
    assert [a.url for a in articles[:2]] == ["http://example.com/feed.xml#guid=g-1",
                                              "http://example.com/untitled"]
    assert articles[1].title == "Body words only"
    assert articles[2].url.startswith("http://example.com/feed.xml#item=")
    assert len(articles) == 3 and warnings == ("1 items had no link, title or text and were skipped",)
    # Keys are stable: a second parse gives the same ids.
    assert [a.id for a in articles_of(body)[1]] == [a.id for a in articles]


def test_atom_entries_with_tag_ids_keep_their_alternate_link() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://e.com/"><title>A</title>
      <entry><title>x</title><id>tag:e.com,2026:x</id><link rel="alternate" href="/news/x"/></entry>
      <entry><title>y</title><id>tag:e.com,2026:y</id></entry></feed>"""
    _, articles, _ = articles_of(atom)
    assert [a.url for a in articles] == ["https://e.com/news/x", f"{SPEC.url}#guid=tag:e.com,2026:y"]


def test_hostile_html_in_titles_and_bodies_is_stored_as_inert_text() -> None:
    body = rss(item(1, title="&lt;img src=x onerror=alert(1)&gt;Hi&lt;script&gt;evil()&lt;/script&gt;",
                    body="&lt;iframe src='http://evil'&gt;&lt;/iframe&gt;&lt;p&gt;ok&lt;/p&gt;\x01"))
    _, articles, _ = articles_of(body)
    document = json.dumps(articles[0].to_document())
    assert articles[0].title == "Hi" and articles[0].body == "ok"
    assert "<" not in document and "evil" not in document


def test_the_same_story_in_rss_and_atom_gets_the_same_id() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>x</title>
      <link href="https://Example.com/s/1?utm_source=atom#top"/><id>t</id></entry></feed>"""
    rss_body = rss("<item><title>x</title><link>https://example.com/s/1?utm_campaign=rss</link></item>")
    assert articles_of(atom)[1][0].id == articles_of(rss_body)[1][0].id


@pytest.mark.slow
def test_a_feed_of_50000_items_is_parsed_in_full() -> None:
    body = rss(*(f"<item><title>S {n}</title><link>http://example.com/{n}</link></item>"
                 for n in range(50_000)))
    started = time.perf_counter()
    _, articles, _ = articles_of(body)
    assert len(articles) == 50_000
    assert len({a.id for a in articles}) == 50_000
    print(f"50,000 items parsed and normalised in {time.perf_counter() - started:.1f} s")


@pytest.mark.slow
@pytest.mark.corpus
def test_the_whole_feedparser_test_corpus_parses_without_an_escaping_exception() -> None:
    paths = sorted(p for p in (CORPUS / "feeds" / "feedparser-tests").rglob("*") if p.is_file())
    assert len(paths) == 2107
    failures: dict[str, str] = {}
    articles = 0
    for path in paths:
        try:
            _, parsed, _ = articles_of(path.read_bytes(), FeedSpec(url=str(path)))
            articles += len(parsed)
        except ParseError as exc:  # a recorded reason, which is what the cycle does with it
            failures[path.name] = exc.reason
    assert articles > 500
    assert len(failures) < 20, failures


@pytest.mark.corpus
def test_parse_throughput_reports_files_items_and_rate() -> None:
    paths = sorted(REAL_FEEDS.glob("tlsc__*"))
    figures = parse_throughput(paths)
    assert figures["files"] == 2 and figures["items"] == 134
    assert figures["items_per_s"] > 0 and figures["seconds"] > 0


SY = "xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'"


@pytest.mark.parametrize(("ttl", "seconds", "warned"), [
    ("9" * 400, MAX_DECLARED_SECONDS, False),  # a whole number, too large: clamped
    ("45", 45 * 60.0, False),
    ("0", None, False),
    ("-5", None, True),
    ("4.5e300", None, True),
    ("soon", None, True),
])
def test_a_ttl_of_any_size_or_shape_is_clamped_or_dropped_and_the_feed_survives(
        ttl: str, seconds: float | None, warned: bool) -> None:
    feed, articles, _ = articles_of(rss(item(1), extra=f"<ttl>{ttl}</ttl>"))
    assert feed.ttl == seconds
    assert [a.title for a in articles] == ["Story 1"]
    assert any("<ttl>" in w for w in feed.warnings) == warned


@pytest.mark.parametrize(("period", "frequency", "seconds"), [
    ("hourly", "0", 3600.0),
    ("daily", "9" * 400, 86400 / MAX_UPDATE_FREQUENCY),
    ("daily", "-3", 86400.0),
    ("fortnightly", "2", None),
    ("yearly", "x", 365 * 86400.0),
])
def test_syndication_hints_of_any_shape_never_fail_the_feed(period: str, frequency: str,
                                                             seconds: float | None) -> None:
    extra = (f"<sy:updatePeriod {SY}>{period}</sy:updatePeriod>"
             f"<sy:updateFrequency {SY}>{frequency}</sy:updateFrequency>")
    feed, articles, _ = articles_of(rss(item(1), extra=extra))
    assert feed.update_period == seconds
    assert len(articles) == 1


HOSTILE_DATES = ["9999-12-31T23:00:00-05:00", "0000-01-01T00:00:00Z", "+275760-09-13T00:00:00Z",
                 "Fri, 31 Dec 9999 23:00:00 -0500", "1e300", "yesterday"]


@pytest.mark.parametrize("date", HOSTILE_DATES)
def test_dates_out_of_range_or_unreadable_are_dropped_and_the_item_survives(date: str) -> None:
    bodies = [
        rss(f"<item><title>x</title><link>http://e.com/1</link><pubDate>{date}</pubDate></item>"),
        (f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>x</title><id>1</id>'
         f"<link href='http://e.com/1'/><published>{date}</published><updated>{date}</updated></entry>"
         "</feed>").encode(),
        json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
            {"id": "1", "url": "http://e.com/1", "title": "x", "date_published": date,
             "date_modified": 1e300}]}).encode(),
    ]
    for body in bodies:
        feed, articles, _ = articles_of(body)
        assert [(a.title, a.published_at) for a in articles] == [("x", NOW)]
        assert any("dates could not be read" in w for w in feed.warnings), feed.warnings


def test_items_dated_ahead_of_the_fetch_keep_a_few_minutes_of_clock_skew_and_no_more() -> None:
    skewed, years_ahead = NOW + timedelta(minutes=3), NOW + timedelta(days=3 * 365)
    body = rss(*(f"<item><title>{n}</title><link>http://e.com/{n}</link>"
                 f"<pubDate>{format_datetime(when)}</pubDate></item>"
                 for n, when in enumerate((skewed, years_ahead))))
    _, articles, _ = articles_of(body)
    assert [a.published_at for a in articles] == [skewed, NOW]
    assert timedelta(minutes=5) == FUTURE_SKEW


def test_json_feed_numbers_and_types_of_any_kind_never_fail_the_feed() -> None:
    body = ('{"version": "https://jsonfeed.org/version/1.1", "title": 1e999, "items": ['
            '{"id": 12, "url": "http://e.com/1", "title": ["not", "a", "title"], "summary": 7,'
            ' "authors": [{"name": {"x": 1}}, {"name": "Ann"}], "tags": [1, null, "kept"],'
            ' "attachments": [{"url": "http://e.com/a.mp3", "size_in_bytes": ' + "9" * 5000 + "}]},"
            '{"id": "2", "url": "http://e.com/2", "title": "two", "attachments": '
            '[{"url": "http://e.com/b.mp3", "size_in_bytes": -4}, {"url": "http://e.com/c.mp3", '
            '"size_in_bytes": 1234}]}]}').encode()
    feed, articles, _ = articles_of(body)
    assert feed.title == ""
    first, second = articles
    assert first.authors == ("Ann",) and first.categories == ("1", "kept")
    assert [e.length for e in first.enclosures] == [None]
    assert [e.length for e in second.enclosures] == [None, 1234]
