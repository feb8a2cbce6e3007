"""Articles from the offline corpus (/work/shared/corpus/feeds/real), built for enrichment tests.

The corpus is publishers' text: it is read at test time and never committed. This is a small
stand-in for ingest's normaliser (HTML to text with paragraphs), enough for NER, topics and stories.
"""

from __future__ import annotations

import csv
import gzip
import html
import re
from datetime import UTC, datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import feedparser

from newsflow.core.models import Article, article_id_for
from tests.conftest import CORPUS

REAL = CORPUS / "feeds" / "real"
_BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "blockquote", "figure", "tr", "section"}
_SKIP = {"script", "style", "figcaption", "noscript"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    text = html.unescape("".join(parser.parts))
    paragraphs = (re.sub(r"[ \t\r\f\v\xa0]+", " ", p).strip() for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in (" ".join(p.split("\n")) for p in paragraphs) if p)


@cache
def news_files() -> tuple[str, ...]:
    with (REAL / "INDEX.tsv").open(encoding="utf-8") as handle:
        return tuple(row["file"] for row in csv.DictReader(handle, delimiter="\t")
                     if row["news_publisher"] == "yes")


@cache
def feed_articles(name: str) -> tuple[Article, ...]:
    path = REAL / name
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    parsed = feedparser.parse(raw, sanitize_html=False, resolve_relative_uris=False)
    source = str(parsed.feed.get("title") or name)
    articles = []
    for index, entry in enumerate(parsed.entries):
        link = str(entry.get("link") or f"{name}#{index}")
        content = entry.get("content") or []
        body_html = max((c.get("value", "") for c in content), key=len, default="")
        summary = html_to_text(str(entry.get("summary") or ""))
        body = html_to_text(body_html) if body_html else ""
        # dict.get: feedparser's own get("updated_parsed") falls back to published_parsed, with a warning.
        when = entry.get("published_parsed") or dict.get(entry, "updated_parsed")
        published = datetime(*when[:6], tzinfo=UTC) if when else datetime(2024, 1, 1, tzinfo=UTC)
        articles.append(Article(
            id=article_id_for(link), url=link, title=html_to_text(str(entry.get("title") or "")),
            summary=summary if summary != body else "", body=body, source=source, feed_url=str(path),
            published_at=published, ingested_at=published,
            categories=tuple(str(t.get("term") or "") for t in entry.get("tags") or [] if t.get("term")),
            guid=str(entry.get("id") or ""),
        ))
    return tuple(articles)


def corpus_article(name: str, index: int) -> Article:
    return feed_articles(name)[index]


def all_news_articles() -> list[Article]:
    return [a for name in news_files() for a in feed_articles(name)]


def text_of(article: Article) -> str:
    return f"{article.title}\n\n{article.body or article.summary}"


__all__ = [
    "REAL", "Path", "all_news_articles", "corpus_article", "feed_articles", "html_to_text", "news_files",
]
