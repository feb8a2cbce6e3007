"""One poll of many feeds: fetch concurrently and politely, parse, normalise, compute the next state.

`poll_feeds` never raises for a feed's failure: every spec gets a FeedResult (in input order) whose
`state` is what to store once its articles are safely indexed or spooled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ingest.fetch import Fetched, Fetcher, FetchFailed, Validators
from ingest.normalise import normalise_feed
from ingest.parse import ParsedFeed, parse_feed
from ingest.schedule import (
    PollHints,
    cache_seconds,
    failure_delay,
    merge_item_times,
    next_due,
    poll_interval,
)
from ingest.text import clean_title
from ingest.types import FeedResult, FeedSpec, FeedState, FeedStatus
from newsflow.errors import FeedError
from newsflow.models import Article, utc_now
from newsflow.settings import Settings

if TYPE_CHECKING:  # trafilatura is imported only when full text is switched on
    from ingest.fulltext import RobotsRules

log = logging.getLogger(__name__)

ResultCallback = Callable[[FeedResult], None]


def poll_feeds(
    specs: Sequence[FeedSpec],
    states: Mapping[str, FeedState],
    settings: Settings,
    *,
    now: datetime | None = None,
    on_result: ResultCallback | None = None,
) -> list[FeedResult]:
    """Poll every spec once; one FeedResult per spec, in input order. Never raises for a feed."""
    if not specs:
        return []
    coroutine = _poll_all(specs, states, settings, now or utc_now(), on_result)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from inside an event loop (a notebook, an async worker): run ours in a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Parser:
    """Parses and normalises fetched bodies off the event loop: in worker processes when there are
    many feeds (feedparser is pure Python, so threads would share one core), else in a thread.

    A worker that dies (a crash inside a parser) breaks the pool: the feed it held fails with the
    reason, and the remaining feeds are parsed in threads."""

    def __init__(self, settings: Settings, feeds: int) -> None:
        self._settings = settings
        wanted = settings.fetch.parse_processes or (os.cpu_count() or 1)
        use_processes = (
            wanted > 1 and feeds >= settings.fetch.parse_processes_min_feeds
            and not multiprocessing.current_process().daemon  # daemonic workers may not fork
        )
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=wanted, mp_context=multiprocessing.get_context("fork"),
        ) if use_processes else None

    async def parse(self, spec: FeedSpec, fetched: Fetched, now: datetime
                    ) -> tuple[ParsedFeed, tuple[Article, ...], tuple[str, ...]]:
        pool = self._pool
        if pool is not None:
            loop = asyncio.get_running_loop()
            try:
                outcome = await loop.run_in_executor(pool, _parse_in_worker, spec, fetched,
                                                     self._settings, now)
            except concurrent.futures.process.BrokenProcessPool:
                if self._pool is pool:
                    log.error("a feed parser process died (on %s or a feed parsed beside it); "
                              "parsing the rest in threads", spec.url)
                    self._pool = None
                    pool.shutdown(wait=False, cancel_futures=True)
                raise FeedError(spec.url, "the parser process died while parsing this feed") from None
            if isinstance(outcome, str):
                raise FeedError(spec.url, outcome)
            return outcome
        # CPU-bound: off the event loop, so other feeds' downloads keep flowing meanwhile.
        return await asyncio.to_thread(_parse_and_normalise, spec, fetched, self._settings, now)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


async def _poll_all(specs: Sequence[FeedSpec], states: Mapping[str, FeedState], settings: Settings,
                    now: datetime, on_result: ResultCallback | None) -> list[FeedResult]:
    feed_slots = asyncio.Semaphore(max(1, settings.fetch.concurrency))
    parser = Parser(settings, len(specs))
    try:
        return await _poll_with(parser, specs, states, settings, now, on_result, feed_slots)
    finally:
        parser.close()


async def _poll_with(parser: Parser, specs: Sequence[FeedSpec], states: Mapping[str, FeedState],
                     settings: Settings, now: datetime, on_result: ResultCallback | None,
                     feed_slots: asyncio.Semaphore) -> list[FeedResult]:
    async with Fetcher(settings.fetch) as fetcher:
        robots: RobotsRules | None = None
        if settings.fetch.full_text:
            from ingest.fulltext import RobotsRules

            robots = RobotsRules(fetcher, settings.fetch.user_agent)

        async def one(spec: FeedSpec) -> FeedResult:
            async with feed_slots:
                result = await poll_one(fetcher, spec, states.get(spec.key), settings, now, robots,
                                        parser=parser)
            if on_result is not None:
                try:
                    on_result(result)
                except Exception:  # a progress display must not sink the poll
                    log.exception("on_result callback failed for %s", spec.url)
            return result

        return list(await asyncio.gather(*(one(spec) for spec in specs)))


async def poll_one(fetcher: Fetcher, spec: FeedSpec, state: FeedState | None, settings: Settings,
                   now: datetime, robots: RobotsRules | None = None, *,
                   parser: Parser | None = None) -> FeedResult:
    """Poll one feed; every failure becomes a failed (or gone) result."""
    state = state or FeedState(key=spec.key, url=spec.url)
    started = time.perf_counter()
    try:
        fetched = await fetcher.fetch(state.fetch_url, Validators(state.etag, state.last_modified))
        if fetched.not_modified:
            result = _not_modified(spec, state, fetched, settings, now)
        else:
            feed, articles, warnings = await (parser or Parser(settings, 1)).parse(spec, fetched, now)
            if settings.fetch.full_text:
                from ingest.fulltext import complete_bodies

                articles, more = await complete_bodies(articles, fetcher, settings, robots)
                warnings += more
            result = _fetched(spec, state, fetched, feed, articles, warnings, settings, now)
    except FetchFailed as exc:
        result = _failed(spec, state, exc.reason, settings, now, http_status=exc.status_code,
                         retry_after=exc.retry_after, gone=exc.gone)
    except FeedError as exc:
        result = _failed(spec, state, exc.reason, settings, now)
    except Exception as exc:  # a bug must cost one feed, not the cycle
        log.exception("unexpected error polling %s", spec.url)
        result = _failed(spec, state, f"internal error: {type(exc).__name__}: {exc}", settings, now)
    elapsed = time.perf_counter() - started
    log.info("feed %s: %s%s", spec.url, result.status, f" ({result.reason})" if result.reason else "")
    return replace(result, elapsed=elapsed)


def _parse_and_normalise(spec: FeedSpec, fetched: Fetched, settings: Settings, now: datetime
                         ) -> tuple[ParsedFeed, tuple[Article, ...], tuple[str, ...]]:
    feed = parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type,
                      max_bytes=settings.fetch.max_body_bytes)
    articles, warnings = normalise_feed(spec, feed, fetched.url, now)
    return feed, articles, warnings


def _parse_in_worker(spec: FeedSpec, fetched: Fetched, settings: Settings, now: datetime
                     ) -> tuple[ParsedFeed, tuple[Article, ...], tuple[str, ...]] | str:
    """_parse_and_normalise in a parser process: the feed's entries stay behind (only its metadata
    is used from here on), and a FeedError comes back as its reason (exceptions with their own
    constructor arguments do not survive pickling)."""
    try:
        feed, articles, warnings = _parse_and_normalise(spec, fetched, settings, now)
    except FeedError as exc:
        return exc.reason
    return replace(feed, entries=()), articles, warnings


def _not_modified(spec: FeedSpec, state: FeedState, fetched: Fetched, settings: Settings,
                  now: datetime) -> FeedResult:
    # Nothing was parsed: the feed's own hints are the ones remembered from its last parse.
    hints = PollHints(cache_seconds=cache_seconds(fetched.headers), ttl=state.declared_interval,
                      item_times=state.recent_item_times)
    new_state = replace(
        state,
        current_url=fetched.permanent_url or state.current_url,
        etag=fetched.validators.etag or state.etag,
        last_modified=fetched.validators.last_modified or state.last_modified,
        last_fetched_at=now, last_success_at=now, last_status="not_modified", last_error="",
        consecutive_failures=0, next_due_at=next_due(now, poll_interval(spec, hints, settings.fetch)),
    )
    return FeedResult(spec=spec, status="not_modified", state=new_state,
                      http_status=fetched.status_code or None)


def _fetched(spec: FeedSpec, state: FeedState, fetched: Fetched, feed: ParsedFeed,
             articles: tuple[Article, ...], warnings: tuple[str, ...], settings: Settings,
             now: datetime) -> FeedResult:
    item_times = merge_item_times([a.published_at for a in articles], ())
    hints = PollHints(cache_seconds=cache_seconds(fetched.headers), ttl=feed.ttl,
                      update_period=feed.update_period,
                      item_times=merge_item_times(item_times, state.recent_item_times))
    new_state = replace(
        state,
        current_url=fetched.permanent_url or state.current_url,
        title=clean_title(feed.title) or state.title,
        etag=fetched.validators.etag, last_modified=fetched.validators.last_modified,
        last_fetched_at=now, last_success_at=now, last_status="fetched", last_error="",
        consecutive_failures=0, next_due_at=next_due(now, poll_interval(spec, hints, settings.fetch)),
        gone=False, item_count=len(articles), recent_item_times=hints.item_times,
        declared_interval=max(feed.ttl or 0, feed.update_period or 0) or None,
    )
    all_warnings = feed.warnings + warnings
    return FeedResult(spec=spec, status="fetched", state=new_state, articles=articles,
                      reason="; ".join(all_warnings), http_status=fetched.status_code or None,
                      warnings=all_warnings)


def _failed(spec: FeedSpec, state: FeedState, reason: str, settings: Settings, now: datetime, *,
            http_status: int | None = None, retry_after: float | None = None,
            gone: bool = False) -> FeedResult:
    failures = state.consecutive_failures + 1
    status: FeedStatus = "gone" if gone else "failed"
    new_state = replace(
        state, last_fetched_at=now, last_status=status, last_error=reason,
        consecutive_failures=failures, gone=gone,
        next_due_at=next_due(now, failure_delay(spec, failures, settings.fetch, retry_after)),
    )
    return FeedResult(spec=spec, status=status, state=new_state, reason=reason, http_status=http_status)
