"""Clean, inert text and canonical URLs: the rules every stored article follows."""

from __future__ import annotations

import time

import pytest

from ingest.text import MAX_TITLE_CHARS, clean_title, html_to_text
from ingest.urls import canonical_url


def test_markup_is_removed_and_scripts_never_survive() -> None:
    hostile = '<p onclick="x()">Hello <b>world</b></p><script>alert("pwned")</script><style>p{}</style>'
    text = html_to_text(hostile)
    assert text == "Hello world"
    assert "<" not in text and "alert" not in text


def test_entities_are_decoded_and_whitespace_normalised() -> None:
    text = html_to_text("Fish &amp; chips&nbsp;&#8212;\n\t  caf&eacute;", paragraphs=False)
    assert text == "Fish & chips — café"


def test_paragraph_breaks_are_kept_as_one_blank_line() -> None:
    assert html_to_text("<p>One</p>\n\n\n<p>Two<br>Three</p><ul><li>Four</li></ul>") == (
        "One\n\nTwo\n\nThree\n\nFour")


def test_control_characters_and_invalid_unicode_are_removed() -> None:
    dirty = "Bad\x00 \x07title\x1b with \ud800 surrogate\ufeff and &#1; ref"
    assert clean_title(dirty) == "Bad title with surrogate and ref"


def test_escaped_markup_in_a_title_is_stored_as_text_without_tags() -> None:
    # feedparser decodes &lt;script&gt; into a tag; it must not come back as markup.
    title = clean_title("<script>alert(1)</script>Breaking <img src=x onerror=alert(1)>news")
    assert title == "Breaking news"


def test_markup_escaped_twice_does_not_come_back_as_a_tag() -> None:
    text = html_to_text("<p>&lt;script&gt;alert(1)&lt;/script&gt;Safe &lt;b onmouseover=x()&gt;text</p>")
    assert text == "Safe text"
    assert html_to_text("if a &lt; b and c &gt; d") == "if a < b and c > d"  # prose keeps its signs


def test_unclosed_scripts_and_comments_drop_the_rest() -> None:
    assert html_to_text("Visible<script>var x = '<p>'; evil()") == "Visible"
    assert html_to_text("Kept<!-- hidden --> too <!-- never closed") == "Kept too"


def test_extremely_long_titles_are_truncated_with_an_ellipsis() -> None:
    title = clean_title("word " * 2000)
    assert len(title) == MAX_TITLE_CHARS
    assert title.endswith("…")


@pytest.mark.parametrize(("link", "canonical"), [
    ("HTTP://Example.COM:80/a/b?utm_source=x&id=3&fbclid=y#frag", "http://example.com/a/b?id=3"),
    ("https://example.com:443/a?gclid=1&utm_medium=rss", "https://example.com/a"),
    ("https://example.com:8443/a?b=2&a=1", "https://example.com:8443/a?b=2&a=1"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/caf\u00e9 x", "https://example.com/caf%C3%A9%20x"),
    ("javascript:alert(1)", ""),
    ("mailto:someone@example.com", ""),
    ("", ""),
])
def test_canonical_urls(link: str, canonical: str) -> None:
    assert canonical_url(link) == canonical


def test_relative_links_are_resolved_against_the_base() -> None:
    assert canonical_url("../b/c.html#x", "https://example.com/a/feed.xml") == "https://example.com/b/c.html"


# Markup that made regular-expression tag stripping rescan the rest of the input at every `<`, or
# makes an HTML5 tree builder walk a deep stack of open elements at every tag.
PATHOLOGICAL = {
    "unclosed script tags": "<script ",
    "unterminated double quotes": '<a href="',
    "unterminated single quotes": "<a title='x ",
    "unclosed comments": "<!--",
    "nested divs": "<div>",
    "nested tables and cells": "<table><tr><td>x",
    "nested formatting with attributes": "<b id=1><i>x",
    "nested svg": "<svg><g>",
    "stray end tags inside nested elements": "<span></button></object></noscript>",
    "an entity flood": "&",
    "an entity flood with names": "&amp;&lt;&#1;&#x;&bogus",
    "markup escaped twice, never closed": "&lt;script ",
}


def _cpu_seconds(markup: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        html_to_text(markup)
        best = min(best, time.process_time() - started)
    return best


def test_html_to_text_takes_linear_time_on_pathological_markup() -> None:
    # A ratio within one run, in CPU time (other processes on the machine do not count): 16 times
    # the input must cost about 16 times as much. Quadratic work gives 256; the bound leaves room
    # for noise and cache effects.
    copies = 2_000
    ratios = {name: _cpu_seconds(unit * copies * 16) / max(_cpu_seconds(unit * copies), 1e-4)
              for name, unit in PATHOLOGICAL.items()}
    assert max(ratios.values()) < 64, {name: round(ratio, 1) for name, ratio in ratios.items()}


def test_pathological_markup_leaves_no_tag_and_keeps_the_text_around_it() -> None:
    assert html_to_text("<div>" * 100_000 + "deep text" + "</div>" * 100_000) == "deep text"
    assert html_to_text("before<svg>" + "<g>" * 10_000 + "drawn</svg>after") == "before after"
    assert html_to_text("<table><tr><td>cell</td><td>next</td></tr></table>") == "cell next"
    assert html_to_text("kept <embed src=x> and <object>dropped</object> too") == "kept and too"
    assert html_to_text("<select><option>no</option></select>yes<button>no</button>") == "yes"
