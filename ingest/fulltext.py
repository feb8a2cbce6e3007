"""Optional full text: when a feed carries only a summary, fetch the article page and extract its
main text (trafilatura, comments and tables left out). Off by default (`FetchSettings.full_text`).

Rules: the same fetcher as feeds (per-host limit, politeness delay, address policy, size limit,
timeouts); robots.txt is honoured for our User-Agent, Crawl-delay included (a missing robots.txt
allows, an unreadable one refuses); an extracted text is kept in `$NEWSFLOW_HOME/cache/fulltext/`
and reused on later polls, so an article's body, and with it its content hash, stays stable from
poll to poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import trafilatura

from ingest.fetch import Fetcher, is_http_url
from ingest.text import normalise_whitespace, remove_control_characters
from newsflow.core.errors import FetchError, FetchFailed
from newsflow.core.models import Article
from newsflow.core.settings import Settings

_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]
MAX_PAGES_PER_POLL = 200  # article pages fetched per poll at most: the rest wait for a later poll


class PageBudget:
    """The article pages one poll may still fetch, shared by all its feeds (a budget per feed would
    let a poll of many feeds fetch pages without end)."""

    def __init__(self, pages: int | None = None) -> None:
        self.left = MAX_PAGES_PER_POLL if pages is None else pages

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def extract_main_text(html: str | bytes, url: str = "") -> str:
    """The main text of an article page, paragraphs separated by a blank line ("" when none)."""
    text = trafilatura.extract(html, url=url or None, include_comments=False, include_tables=False,
                               favor_precision=True, deduplicate=True)
    if not text:
        return ""
    return normalise_whitespace(remove_control_characters(text).replace("\n", "\n\n"))


class RobotsRules:
    """robots.txt per host, fetched once per poll through the polite fetcher."""

    def __init__(self, fetcher: Fetcher, user_agent: str) -> None:
        self._fetcher = fetcher
        self._agent = user_agent.split("/", 1)[0] or "newsflow"
        self._parsers: dict[str, RobotFileParser | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._page_locks: dict[str, asyncio.Lock] = {}

    def page_lock(self, url: str) -> asyncio.Lock:
        """One lock per article URL: two feeds carrying the same article fetch its page once."""
        return self._page_locks.setdefault(url, asyncio.Lock())

    async def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with self._locks.setdefault(origin, asyncio.Lock()):
            if origin not in self._parsers:
                parser = self._parsers[origin] = await self._load(origin)
                delay = parser.crawl_delay(self._agent) if parser is not None else None
                if delay:
                    self._fetcher.slow_down(parts.hostname or "", float(delay))
        parser = self._parsers[origin]
        return parser is None or parser.can_fetch(self._agent, url)

    async def _load(self, origin: str) -> RobotFileParser | None:
        parser = RobotFileParser()
        try:
            fetched = await self._fetcher.get_page(f"{origin}/robots.txt")
        except FetchFailed as exc:
            if exc.status_code in (404, 410):
                return None  # no robots.txt: everything allowed
            parser.parse(_DISALLOW_ALL)  # cannot tell: stay out
            return parser
        except FetchError:
            parser.parse(_DISALLOW_ALL)
            return parser
        parser.parse(fetched.body.decode("utf-8", errors="replace").splitlines())
        return parser


def _cache_path(settings: Settings, article: Article) -> Path:
    digest = hashlib.sha256(article.url.encode("utf-8")).hexdigest()[:32]
    return settings.cache_dir / "fulltext" / digest[:2] / f"{digest}.txt"


async def complete_bodies(articles: tuple[Article, ...], fetcher: Fetcher, settings: Settings,
                          robots: RobotsRules | None = None, *, pages: PageBudget | None = None,
                          stop_at: float | None = None) -> tuple[tuple[Article, ...], tuple[str, ...]]:
    """Replace summary-only bodies with the article page's main text where it can be had.

    Pass one `robots` and one `pages` budget for a whole poll, so each host's robots.txt is read
    once per poll and the poll fetches at most MAX_PAGES_PER_POLL pages. At `stop_at` (a loop time:
    the feed's deadline, less a margin) no more pages are fetched and one under way is abandoned:
    the articles keep the bodies they have.
    """
    robots = robots or RobotsRules(fetcher, settings.fetch.user_agent)
    pages = pages or PageBudget()
    wanted = [a for a in articles if len(a.body) < settings.fetch.full_text_min_chars
              and is_http_url(a.url) and "#" not in a.url]
    bodies: dict[str, str] = {}
    problems: list[str] = []
    try:
        async with asyncio.timeout_at(stop_at):
            await _complete(wanted, fetcher, settings, robots, pages, bodies, problems)
    except TimeoutError:
        problems.append("full text stopped at the feed deadline (fetch.feed_deadline)")
    completed = tuple(replace(a, body=bodies[a.id]) if bodies.get(a.id) else a for a in articles)
    warnings = (f"full text: {len(problems)} pages skipped (first: {problems[0]})",) if problems else ()
    return completed, warnings


async def _complete(wanted: list[Article], fetcher: Fetcher, settings: Settings, robots: RobotsRules,
                    pages: PageBudget, bodies: dict[str, str], problems: list[str]) -> None:
    for article in wanted:
        async with robots.page_lock(article.url):
            cache = _cache_path(settings, article)
            if cache.is_file():
                bodies[article.id] = cache.read_text(encoding="utf-8")
                continue
            if not await robots.allowed(article.url):
                problems.append(f"robots.txt disallows {article.url}")
                continue
            if not pages.take():
                continue
            try:
                page = await fetcher.get_page(article.url)
            except FetchError as exc:
                problems.append(f"full text of {article.url}: {exc.reason}")
                continue
            text = await asyncio.to_thread(extract_main_text, page.body, page.url)
            if len(text) > len(article.body):
                cache.parent.mkdir(parents=True, exist_ok=True)
                partial = cache.with_suffix(f".{os.getpid()}.tmp")  # readers never see half a file
                partial.write_text(text, encoding="utf-8")
                os.replace(partial, cache)
                bodies[article.id] = text
