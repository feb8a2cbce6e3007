"""Hostile feed bodies: what a real server can serve to attack or break the content side of ingest.

`HOSTILE_BODIES[name] = (body bytes, extra response headers)`. The hostile-feed server harness
serves each case at `/hostile/<name>.xml` beside ordinary feeds; `tests/ingest/test_hostile_bodies.py`
runs each through parse_feed + normalise_feed in-process. The expected outcome of every case is
either the feed parses with its bad parts dropped (and warnings), or the feed fails with a
ParseError naming the reason: never another exception, never a hang, never unbounded output, and
never a byte of a local file (XXE).

Bodies are built once at import (the largest is about 5 MB); every one stays under the 10 MiB
body limit (`fetch.max_body_bytes`).
"""

from __future__ import annotations

import gzip
import json

XXE_TARGET = "/etc/passwd"  # no byte of it may ever appear in an article
_RSS_HEAD = '<?xml version="1.0" encoding="utf-8"?>'
_SY = 'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'


def _item(n: int, title: str = "", body: str = "Text.", extra: str = "") -> str:
    return (f"<item><title>{title or f'Hostile story {n}'}</title><link>http://example.com/h/{n}</link>"
            f"<description>{body}</description><pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate>"
            f"{extra}</item>")


def _rss(*items: str, head: str = _RSS_HEAD, doctype: str = "", channel: str = "",
         rss_attributes: str = "") -> bytes:
    return (f'{head}{doctype}<rss version="2.0" {rss_attributes}><channel><title>Hostile feed</title>'
            f"<link>http://example.com/</link>{channel}{''.join(items)}</channel></rss>").encode()


def _billion_laughs() -> bytes:
    levels = ['<!ENTITY lol0 "lol">']
    levels += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return _rss(_item(1, title="Laugh &lol9;", body="&lol9;&lol9;"),
                doctype=f"<!DOCTYPE rss [{''.join(levels)}]>")


def _quadratic_blowup() -> bytes:
    # One flat entity of 50 KB, referenced 30,000 times: no nesting, 1.5 GB if expanded.
    return _rss(_item(1, body="&big;" * 30_000),
                doctype=f'<!DOCTYPE rss [<!ENTITY big "{"B" * 50_000}">]>')


def _xxe(system: str, parameter: bool = False) -> bytes:
    if parameter:
        doctype = f'<!DOCTYPE rss [<!ENTITY % ext SYSTEM "{system}"> %ext;]>'
        return _rss(_item(1, title="Parameter entity"), doctype=doctype)
    doctype = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{system}">]>'
    return _rss(_item(1, title="Leak &xxe;", body="&xxe;"), doctype=doctype,
                channel="<description>&xxe;</description>")


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _json_deep() -> bytes:
    return ('{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "title": "deep",'
            ' "url": "http://example.com/deep", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}]}").encode()


def _json_numbers() -> bytes:
    huge = "9" * 5_000  # over Python's 4,300-digit int limit
    return ('{"version": "https://jsonfeed.org/version/1.1", "title": 1e999, "items": ['
            '{"id": ' + huge + ', "url": "http://example.com/n", "title": "numbers", '
            '"date_published": 1e300, "attachments": [{"url": "http://example.com/a.mp3", '
            '"size_in_bytes": ' + huge + '}, {"url": "http://example.com/b.mp3", "size_in_bytes": -1e308}]}]}'
            ).encode()


def _invalid_utf8() -> bytes:
    # Encoded surrogates (ED A0 80), overlong forms (C0 AF), stray continuation bytes, a lone lead
    # byte, and 5-byte forms: none is valid UTF-8.
    garbage = b"\xed\xa0\x80 \xc0\xaf \x80\x81 \xe2\x82 \xf8\x88\x80\x80\x80 \xff\xfe"
    return (_RSS_HEAD.encode() + b'<rss version="2.0"><channel><title>Bad ' + garbage + b"</title>"
            b"<item><title>Broken " + garbage + b" bytes</title><link>http://example.com/u/1</link>"
            b"<description>" + garbage + b"</description></item></channel></rss>")


def _mixed_encoding() -> bytes:
    return (_RSS_HEAD.encode() + b'<rss version="2.0"><channel><title>Mixed</title>'
            + "<item><title>Café UTF-8</title><link>http://example.com/m/1</link></item>".encode()
            + "<item><title>Café latin-1</title><link>http://example.com/m/2</link></item>".encode("latin-1")
            + "<item><title>日本語 “quotes”</title><link>http://example.com/m/3</link></item>".encode()
            + "“”".encode("cp1252") + b"</channel></rss>")


def _utf16_declared_utf8() -> bytes:
    text = _rss(_item(1, title="Declared UTF-8, sent as UTF-16")).decode()
    return b"\xff\xfe" + text.encode("utf-16-le")


def _bom_lie() -> bytes:
    # A UTF-8 BOM before a body declared as, and encoded in, UTF-16.
    text = _rss(_item(1, title="BOM says UTF-8"), head='<?xml version="1.0" encoding="utf-16"?>').decode()
    return b"\xef\xbb\xbf" + text.encode("utf-16-be")


def _nul_bytes() -> bytes:
    return (_RSS_HEAD.encode() + b'<rss version="2.0"><channel><title>N\x00UL</title><item>'
            b"<title>Null\x00 in\x00 title</title><link>http://example.com/\x00nul</link>"
            b"<description>Body\x00with\x00NULs</description></item>\x00\x00</channel></rss>")


def _rtl_tricks() -> bytes:
    titles = [
        "\u202eevil.exe\u202c looks like exe.live",  # right-to-left override
        "Zero\u200bwidth\u200b\u2060joiners\ufeff",
        "\u2066isolated\u2069 and \u202aembedded\u202c",
        "\u200f\u05e9\u05dc\u05d5\u05dd RLM kept",
    ]
    return _rss(*(_item(n, title=t) for n, t in enumerate(titles)))


def _deep_xml() -> bytes:
    depth = 100_000
    return _rss(_item(1, extra="<x:a xmlns:x='urn:x'>" + "<x:a>" * depth + "deep" + "</x:a>" * (depth + 1)))


def _atom_odd_namespaces() -> bytes:
    return b"""<?xml version="1.0"?>
<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns="http://example.com/not-atom"
        xmlns:media="http://search.yahoo.com/mrss/" xmlns:b="http://www.w3.org/2005/Atom">
  <a:title>Odd namespaces</a:title>
  <b:link href="http://example.com/"/>
  <a:entry><a:title>Prefixed entry</a:title><a:id>urn:1</a:id><a:link href="http://example.com/ns/1"/>
    <a:updated>2024-03-05T10:00:00Z</a:updated><title>not the atom title</title></a:entry>
  <entry xmlns="http://www.w3.org/2005/Atom"><title>Default namespace again</title>
    <id>urn:2</id><link href="http://example.com/ns/2"/>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>
      <p>xhtml body</p></div></content></entry>
  <entry xmlns="http://purl.org/atom/ns#"><title>Atom 0.3 namespace inside</title></entry>
</a:feed>"""


def _gzip_bomb() -> bytes:
    return gzip.compress(b"<" * (80 * 1024 * 1024), compresslevel=9)  # 80 MB inflated, ~80 KB sent


_HTML_PATTERNS = {
    "unclosed_script": "<script " * 20_000,
    "unterminated_quotes": '<a href="' * 20_000,
    "unclosed_comments": "<!--" * 20_000,
    "nested_divs": "<div>" * 100_000 + "deep",
    "entity_flood": "&amp;&lt;&#1;&#x;&bogus" * 20_000,
    "escaped_twice": "&lt;script&gt;alert(1)&lt;/script&gt;" * 10_000,
}


def _pathological_html() -> bytes:
    items = [
        _item(n, title=f"Pathological {name}", body=f"<![CDATA[{pattern}]]>")
        for n, (name, pattern) in enumerate(_HTML_PATTERNS.items())
    ]
    return _rss(*items)


def _build() -> dict[str, tuple[bytes, dict[str, str]]]:
    xml = {"content-type": "application/rss+xml; charset=utf-8"}
    future = "Thu, 01 Jan 2099 00:00:00 GMT"
    return {
        # XML entity tricks
        "billion_laughs": (_billion_laughs(), xml),
        "quadratic_blowup": (_quadratic_blowup(), xml),
        "xxe_file": (_xxe(f"file://{XXE_TARGET}"), xml),
        "xxe_relative_file": (_xxe("../../../../../../../../etc/passwd"), xml),
        "xxe_parameter_entity": (_xxe(f"file://{XXE_TARGET}", parameter=True), xml),
        "xxe_http": (_xxe("http://127.0.0.1:9/secret"), xml),
        "external_dtd": (_rss(_item(1, title="External DTD &ent;"),
                              doctype='<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd">'), xml),
        # Markup that stalls naive HTML handling
        "pathological_html": (_pathological_html(), xml),
        "html_in_titles": (_rss(_item(1, title="&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x "
                                          "onerror=alert(2)&gt;Title",
                                      body="&lt;iframe src=//evil&gt;")), xml),
        # Numbers and dates from the network
        "ttl_400_digits": (_rss(_item(1), channel=f"<ttl>{'9' * 400}</ttl>"),
                           {**xml, "cache-control": f"max-age={'9' * 400}"}),
        "ttl_garbage": (_rss(_item(1), channel="<ttl>-15</ttl><ttl>soon</ttl>"),
                        {**xml, "expires": "Fri, 31 Dec 9999 23:59:59 GMT",
                         "date": "Sun, 10 Mar 2024 12:00:00 GMT"}),
        "sy_garbage": (_rss(_item(1), rss_attributes=_SY,
                            channel=f"<sy:updatePeriod>fortnightly</sy:updatePeriod>"
                                    f"<sy:updateFrequency>{'9' * 400}</sy:updateFrequency>"), xml),
        "sy_zero_frequency": (_rss(_item(1), rss_attributes=_SY,
                                   channel="<sy:updatePeriod>hourly</sy:updatePeriod>"
                                           "<sy:updateFrequency>0</sy:updateFrequency>"), xml),
        "dates_out_of_range": (_rss(*(
            f"<item><title>Date {n}</title><link>http://example.com/d/{n}</link><pubDate>{date}</pubDate></item>"
            for n, date in enumerate(["9999-12-31T23:00:00-05:00", "0000-01-01T00:00:00Z",
                                      "+275760-09-13T00:00:00Z", "Fri, 31 Dec 9999 23:00:00 -0500",
                                      "1e300", "-99999999999999"]))), xml),
        "future_dated_items": (_rss(*(
            f"<item><title>Future {n}</title><link>http://example.com/f/{n}</link><pubDate>{future}</pubDate></item>"
            for n in range(5))), xml),
        "huge_enclosure_lengths": (_rss(_item(1, extra=''.join(
            f'<enclosure url="http://example.com/e/{n}.mp3" type="audio/mpeg" length="{"9" * 400}"/>'
            for n in range(1_000)))), xml),
        # Encodings
        "invalid_utf8": (_invalid_utf8(), xml),
        "mixed_encodings": (_mixed_encoding(), xml),
        "utf16_declared_utf8": (_utf16_declared_utf8(), {"content-type": "application/xml; charset=utf-8"}),
        "bom_contradicts_declaration": (_bom_lie(), {"content-type": "application/xml"}),
        "charset_header_lies": (_rss(_item(1, title="Ünïcödé in UTF-8")),
                                {"content-type": "application/rss+xml; charset=shift_jis"}),
        "unknown_charset": (_rss(_item(1, title="x"), head='<?xml version="1.0" encoding="x-no-such-99"?>'),
                            {"content-type": "text/xml; charset=x-no-such-99"}),
        "nul_bytes": (_nul_bytes(), xml),
        "rtl_and_zero_width_titles": (_rtl_tricks(), xml),
        # Size and shape
        "fifty_thousand_items": (_rss(*(f"<item><title>S {n}</title><link>http://example.com/s/{n}</link></item>"
                                        for n in range(50_000))), xml),
        "five_mb_item": (_rss(_item(1, body="<![CDATA[" + "<p>" + "word " * 1_000_000 + "</p>]]>")), xml),
        "five_mb_title": (_rss(_item(1, title="T" * 5_000_000)), xml),
        "deeply_nested_xml": (_deep_xml(), xml),
        "huge_attribute": (_rss(_item(1, extra=f'<enclosure url="http://example.com/{"a" * 5_000_000}" '
                                               f'type="{"t" * 100_000}"/>')), xml),
        "atom_odd_namespaces": (_atom_odd_namespaces(), {"content-type": "application/atom+xml"}),
        # JSON Feed
        "json_wrong_types": (_json({"version": ["not", "a", "string"], "title": {"x": 1}, "items": [
            {"id": {"nested": True}, "url": 12, "title": ["list"], "content_html": 3.5, "tags": "not-a-list",
             "authors": "nobody", "date_published": 1700000000.5, "attachments": {"url": 1}},
            {"id": "2", "url": "http://example.com/j/2", "title": True, "summary": None,
             "authors": [{"name": ["a"]}, 7, {"name": "Real"}], "date_modified": "9999-12-31T23:00:00-05:00"},
            "not an object", 42, None]}), {"content-type": "application/feed+json"}),
        "json_deep_nesting": (_json_deep(), {"content-type": "application/feed+json"}),
        "json_huge_numbers": (_json_numbers(), {"content-type": "application/feed+json"}),
        # Not feeds at all: a clear failure
        "gzip_bomb": (_gzip_bomb(), {"content-type": "application/rss+xml"}),
        "html_page": (b"<!DOCTYPE html><html><head><title>Login</title></head><body>" + b"<div>" * 50_000
                      + b"</body></html>", {"content-type": "text/html"}),
        "binary_noise": (bytes(range(256)) * 4_000, {"content-type": "application/octet-stream"}),
        # Backtracking traps for the regular expressions that look at a body's start
        "comment_run_then_garbage": (b"<!-- -->" * 256 + b" not a feed", {"content-type": "text/xml"}),
        "doctype_flood": (b"<!DOCTYPE" * 7_000 + _rss(_item(1)), xml),
    }


HOSTILE_BODIES: dict[str, tuple[bytes, dict[str, str]]] = _build()
