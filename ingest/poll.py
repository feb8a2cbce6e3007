"""One poll of many feeds: fetch concurrently and politely, parse, normalise, compute the next state.

`poll_feeds` never raises for a feed's failure: every spec gets exactly one FeedResult (in input
order), whatever happens (a bug, a callback that raises, a parser process that dies), whose `state`
is what to store once its articles are safely indexed or spooled.

Bounds: each feed has one deadline (`fetch.feed_deadline`) over its hops, retries, waits, body and
parse; the poll has one (`fetch.poll_deadline`): feeds not done by then fail with that reason and
the feeds done are returned. Parsing runs in worker processes, so a parse over the deadline is
stopped for real: its worker is killed and replaced.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from ingest.dispatch import FeedDispatcher
from ingest.fetch import (
    FeedClock,
    Fetched,
    Fetcher,
    HostReservation,
    Validators,
    feed_credentials,
    host_of,
    is_http_url,
)
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
from ingest.websub import discover
from newsflow.core.errors import FeedError, FetchFailed
from newsflow.core.models import Article, utc_now
from newsflow.core.settings import Settings

if TYPE_CHECKING:  # trafilatura is imported only when full text is switched on
    from ingest.fulltext import PageBudget, RobotsRules

log = logging.getLogger(__name__)

ResultCallback = Callable[[FeedResult], None]
Parsed = tuple[ParsedFeed, tuple[Article, ...], tuple[str, ...]]


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
    now = now or utc_now()
    coroutine = _poll_all(specs, states, settings, now, on_result)
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        # Called from inside an event loop (a notebook, an async worker): run ours in a thread of its own.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coroutine).result()
    except Exception as exc:  # the last line of defence: a bug in the poll itself fails its feeds
        log.exception("the poll itself failed")
        reason = f"internal error in the poll: {type(exc).__name__}: {exc}"
        return [failed_safely(spec, states.get(spec.key), reason, settings, now) for spec in specs]


class Parser:
    """Parses and normalises fetched bodies in worker processes (feedparser is pure Python, so
    threads would share one core, and a thread cannot be stopped: a parse over its feed's deadline
    would hold the poll). A parse that is cancelled (its feed's deadline, the poll's) kills its
    worker; a worker that dies (a crash inside a parser) fails only the feed it held. Either way a
    fresh worker replaces it for the next feed.

    Without os.fork (not POSIX) parsing falls back to threads: the deadline still fails the feed on
    time, but the parse itself runs on in the background."""

    def __init__(self, settings: Settings, feeds: int) -> None:
        self._settings = settings
        wanted = settings.fetch.parse_processes or (os.cpu_count() or 1)
        self._size = max(1, min(wanted, feeds))
        self.in_processes = hasattr(os, "fork")  # POSIX; elsewhere threads, and no hard bound
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        # Threads that wait on the workers' pipes (blocking reads release the GIL), one per worker.
        self._waiters = concurrent.futures.ThreadPoolExecutor(max_workers=self._size,
                                                              thread_name_prefix="feed-parse-wait")
        self.killed = 0  # workers killed or lost (for tests and logs)

    async def parse(self, spec: FeedSpec, fetched: Fetched, now: datetime,
                    clock: FeedClock | None = None) -> Parsed:
        """The parse of one feed; its `clock` stops while the feed waits for a free worker."""
        if not self.in_processes:
            return await asyncio.to_thread(_parse_and_normalise, spec, fetched, self._settings, now)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
        with clock.paused() if clock is not None else contextlib.nullcontext():
            await self._slots.acquire()
        try:
            return await self._parse_in_a_worker(spec, fetched, now)
        finally:
            self._slots.release()

    async def _parse_in_a_worker(self, spec: FeedSpec, fetched: Fetched, now: datetime) -> Parsed:
        worker = self._idle.pop() if self._idle else self._start()
        healthy = False
        try:
            loop = asyncio.get_running_loop()
            outcome: Parsed | str = await loop.run_in_executor(self._waiters, worker.exchange,
                                                 (spec, fetched, self._settings, now))
            healthy = True
        except (EOFError, OSError):
            log.error("a feed parser process died while parsing %s", spec.url)
            raise FeedError(spec.url, "the parser process died while parsing this feed") from None
        finally:  # cancelled (a deadline) or dead: the worker goes, a fresh one replaces it
            if healthy:
                self._idle.append(worker)
            else:
                self._discard(worker)
        if isinstance(outcome, str):
            raise FeedError(spec.url, outcome)
        return outcome

    def _start(self) -> _Worker:
        worker = _Worker([w.connection for w in self._live])
        self._live.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        self._live.discard(worker)
        self.killed += 1
        worker.kill()

    def close(self) -> None:
        for worker in list(self._live):
            if worker in self._idle:
                worker.close()
            else:
                worker.kill()
        self._live.clear()
        self._idle.clear()
        self._waiters.shutdown(wait=False, cancel_futures=True)


class _Worker:
    """One parser process and the pipe to it.

    Forked with os.fork rather than multiprocessing.Process: multiprocessing refuses children to a
    daemonic process, and an Airflow task or a Celery worker is one; the bound on parsing must hold
    there too."""

    def __init__(self, inherited: list[Connection]) -> None:
        self.connection, child = multiprocessing.Pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the worker: never returns into the caller's code
            code = 0
            try:
                # It closes the parent's ends it inherits, so it sees end-of-file when the parent dies.
                _worker_main(child, [self.connection, *inherited])
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        child.close()  # else the parent itself would keep the pipe open and never see the child die
        self._reaped = False

    def exchange(self, task: tuple[Any, ...]) -> Any:
        """Send a task and wait for its outcome (in a waiter thread). Closes the pipe on failure."""
        try:
            self.connection.send(task)
            return self.connection.recv()
        except BaseException:
            self.connection.close()
            raise

    def kill(self) -> None:
        # SIGKILL: a parse stuck in C code or a regex ignores anything milder. The waiter thread
        # then sees end-of-file and closes the pipe itself (closing it here could race its read).
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._reap(2.0)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.connection.send(None)
        if not self._reap(2.0):
            self.kill()
        self.connection.close()

    def _reap(self, seconds: float) -> bool:
        """Collect the exited worker (no zombie left); False if it is still running after `seconds`."""
        deadline = time.monotonic() + seconds
        while not self._reaped:
            try:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid = self.pid  # reaped elsewhere
            if pid == self.pid:
                self._reaped = True
            elif time.monotonic() >= deadline:
                return False
            else:
                time.sleep(0.01)
        return True


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies: a worker spinning in a parse never
    reads its pipe, so it would not notice end-of-file, and would outlive a killed `newsflow run`."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pipe's end-of-file is the only signal
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _worker_main(connection: Connection, inherited: list[Connection]) -> None:
    _die_with_parent()
    for other in inherited:
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends us
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if task is None:
            return
        try:
            outcome: Any = _parse_in_worker(*task)
        except Exception as exc:  # a bug must cost one feed
            outcome = f"internal error while parsing: {type(exc).__name__}: {exc}"
        try:
            connection.send(outcome)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the outcome would not pickle
            connection.send(f"internal error: the parse result could not be returned: {exc}")


async def _poll_all(specs: Sequence[FeedSpec], states: Mapping[str, FeedState], settings: Settings,
                    now: datetime, on_result: ResultCallback | None) -> list[FeedResult]:
    poll_started = time.monotonic()
    parser = Parser(settings, len(specs))
    try:
        return await _poll_with(parser, specs, states, settings, now, on_result, poll_started)
    finally:
        parser.close()


async def _poll_with(parser: Parser, specs: Sequence[FeedSpec], states: Mapping[str, FeedState],
                     settings: Settings, now: datetime, on_result: ResultCallback | None,
                     poll_started: float) -> list[FeedResult]:
    clocks = [FeedClock(settings.fetch.feed_deadline) for _ in specs]
    async with Fetcher(settings.fetch) as fetcher:
        robots: RobotsRules | None = None
        pages: PageBudget | None = None
        if settings.fetch.full_text:
            from ingest.fulltext import PageBudget, RobotsRules

            robots = RobotsRules(fetcher, settings.fetch.user_agent)
            pages = PageBudget()  # one budget of article pages for the whole poll

        # The global slots (fetch.concurrency) go only to feeds whose host may be requested now,
        # whatever the order of the feeds file (see ingest/dispatch.py).
        hosts = [_first_host(spec, states.get(spec.key)) for spec in specs]
        dispatcher = FeedDispatcher(hosts, fetcher.host_slots, settings.fetch.concurrency)
        tasks: list[asyncio.Task[FeedResult] | None] = [None] * len(specs)

        async def one(index: int, reservation: HostReservation | None) -> FeedResult:
            spec = specs[index]
            try:
                result = await poll_one(fetcher, spec, states.get(spec.key), settings, now, robots,
                                        parser=parser, clock=clocks[index], pages=pages,
                                        reservation=reservation)
            finally:
                if reservation is not None:
                    reservation.release()  # unused when the feed failed before its first request
                dispatcher.finished()
            _notify(on_result, result)
            return result

        async def dispatch_all() -> None:
            while dispatcher.waiting:
                for index, reservation in dispatcher.take_ready(time.monotonic()):
                    tasks[index] = asyncio.create_task(one(index, reservation))
                if dispatcher.waiting:
                    await dispatcher.wait(time.monotonic())
            started = [task for task in tasks if task is not None]
            if started:
                await asyncio.wait(started)

        budget = settings.fetch.poll_deadline
        timeout = budget - (time.monotonic() - poll_started) if budget > 0 and math.isfinite(budget) else None
        dispatching = asyncio.create_task(dispatch_all())
        await asyncio.wait([dispatching], timeout=max(0.0, timeout) if timeout is not None else None)
        dispatching.cancel()
        pending = [task for task in tasks if task is not None and not task.done()]
        for running in pending:
            running.cancel()
        if pending:
            await asyncio.wait(pending)  # let them unwind: their parser workers are killed
        with contextlib.suppress(asyncio.CancelledError):
            await dispatching
        poll_elapsed = time.monotonic() - poll_started
        results: list[FeedResult] = []
        not_done = 0
        for spec, clock, task in zip(specs, clocks, tasks, strict=True):
            state = states.get(spec.key)
            if task is not None and not task.cancelled() and task.exception() is None:
                results.append(task.result())
                continue
            if task is None or task.cancelled():
                not_done += 1
                result = _unfinished(spec, state, clock, settings, now, poll_elapsed)
            else:  # poll_one catches everything, so only on_result or a bug gets here
                error = task.exception()
                log.error("polling %s failed outside its feed handler: %r", spec.url, error)
                result = failed_safely(spec, state, f"internal error: {type(error).__name__}: {error}",
                                       settings, now)
            _notify(on_result, result)
            results.append(result)
        if not_done:
            log.warning("poll deadline of %g s reached: %d of %d feeds not done", budget, not_done,
                        len(specs))
        return results


def _first_host(spec: FeedSpec, state: FeedState | None) -> str:
    """The host of a feed's first request ("" for a local file): where its politeness applies."""
    url = state.fetch_url if state is not None else spec.url
    return host_of(url) if is_http_url(url) else ""


def _notify(on_result: ResultCallback | None, result: FeedResult) -> None:
    if on_result is None:
        return
    try:
        on_result(result)
    except Exception:  # a progress display must not sink the poll
        log.exception("on_result callback failed for %s", result.spec.url)


def _unfinished(spec: FeedSpec, state: FeedState | None, clock: FeedClock, settings: Settings,
                now: datetime, poll_elapsed: float) -> FeedResult:
    """A feed the poll deadline cut off. One that never got its turn stays due, unchanged: it did
    nothing wrong. One that had started counts as a failure (it was slow)."""
    budget = settings.fetch.poll_deadline
    if not clock.started:
        reason = (f"not polled: the poll deadline of {budget:g} s (fetch.poll_deadline) was reached after "
                  f"{poll_elapsed:.1f} s before this feed's turn; it stays due for the next poll")
        kept = state or FeedState(key=spec.key, url=spec.url)
        return FeedResult(spec=spec, status="failed", state=kept, reason=reason)
    reason = (f"poll deadline of {budget:g} s (fetch.poll_deadline) reached after {poll_elapsed:.1f} s, "
              f"{clock.elapsed():.1f} s into this feed, while {clock.stage}")
    return replace(failed_safely(spec, state, reason, settings, now), elapsed=clock.elapsed())


async def poll_one(fetcher: Fetcher, spec: FeedSpec, state: FeedState | None, settings: Settings,
                   now: datetime, robots: RobotsRules | None = None, *,
                   parser: Parser | None = None, clock: FeedClock | None = None,
                   pages: PageBudget | None = None,
                   reservation: HostReservation | None = None) -> FeedResult:
    """Poll one feed within its deadline; every failure becomes a failed (or gone) result.
    `reservation` is its host's slot, taken by the dispatcher for the feed's first request."""
    state = state or FeedState(key=spec.key, url=spec.url)
    clock = clock or FeedClock(settings.fetch.feed_deadline)
    started = time.perf_counter()
    own_parser = parser is None
    feed_parser = parser or Parser(settings, 1)
    try:
        try:
            async with asyncio.timeout(None) as timer:
                clock.attach(timer)
                result = await _poll_within(fetcher, spec, state, settings, now, robots, feed_parser,
                                            clock, pages, reservation)
        except TimeoutError:  # only our timer: fetch turns every other timeout into FetchFailed
            result = failed_safely(spec, state, clock.exceeded_reason(), settings, now)
    finally:
        if own_parser:
            feed_parser.close()
    elapsed = time.perf_counter() - started
    log.info("feed %s: %s%s", spec.url, result.status, f" ({result.reason})" if result.reason else "")
    return replace(result, elapsed=elapsed)


async def _poll_within(fetcher: Fetcher, spec: FeedSpec, state: FeedState, settings: Settings,
                       now: datetime, robots: RobotsRules | None, parser: Parser, clock: FeedClock,
                       pages: PageBudget | None, reservation: HostReservation | None) -> FeedResult:
    try:
        fetched = await fetcher.fetch(state.fetch_url, Validators(state.etag, state.last_modified),
                                      clock=clock, credentials=feed_credentials(spec),
                                      reservation=reservation)
        if fetched.not_modified:
            return _not_modified(spec, state, fetched, settings, now)
        clock.stage = f"parsing {len(fetched.body)} bytes"
        clock.bytes_read = 0
        feed, articles, warnings = await parser.parse(spec, fetched, now, clock)
        if settings.fetch.full_text:
            from ingest.fulltext import complete_bodies

            clock.stage = "fetching full-text pages"
            articles, more = await complete_bodies(articles, fetcher, settings, robots, pages=pages,
                                                   stop_at=_full_text_stop(clock))
            warnings += more
        return _fetched(spec, state, fetched, feed, articles, warnings, settings, now)
    except FetchFailed as exc:
        return failed_safely(spec, state, exc.reason, settings, now, http_status=exc.status_code,
                             retry_after=exc.retry_after, gone=exc.gone)
    except FeedError as exc:
        return failed_safely(spec, state, exc.reason, settings, now)
    except Exception as exc:  # a bug must cost one feed, not the cycle
        log.exception("unexpected error polling %s", spec.url)
        return failed_safely(spec, state, f"internal error: {type(exc).__name__}: {exc}", settings, now)


def _full_text_stop(clock: FeedClock) -> float | None:
    """Full-text pages stop a little before the feed's deadline, so the feed keeps its articles
    (with the summaries as bodies) rather than failing whole."""
    deadline = clock.deadline_at()
    return None if deadline is None else deadline - min(2.0, clock.seconds * 0.1)


def _parse_and_normalise(spec: FeedSpec, fetched: Fetched, settings: Settings, now: datetime) -> Parsed:
    feed = parse_feed(fetched.body, url=fetched.url, content_type=fetched.content_type,
                      max_bytes=settings.fetch.max_body_bytes)
    articles, warnings = normalise_feed(spec, feed, fetched.url, now)
    return feed, articles, warnings


def _parse_in_worker(spec: FeedSpec, fetched: Fetched, settings: Settings, now: datetime) -> Parsed | str:
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
                      warnings=all_warnings, hub_links=discover(feed, fetched.headers, fetched.url))


def failed_safely(spec: FeedSpec, state: FeedState | None, reason: str, settings: Settings,
                  now: datetime, *, http_status: int | None = None, retry_after: float | None = None,
                  gone: bool = False) -> FeedResult:
    """The failed (or gone) result of a feed; never raises. Should computing the next poll time
    fail (a number from the network no schedule can hold), the feed is retried after the longest
    interval instead, and should even that fail, its state is kept as it was."""
    state = state or FeedState(key=spec.key, url=spec.url)
    status: FeedStatus = "gone" if gone else "failed"
    try:
        return _failed(spec, state, reason, settings, now, http_status=http_status,
                       retry_after=retry_after, gone=gone)
    except Exception as exc:
        log.error("the failed state of %s could not be computed (%r): retrying after the longest interval",
                  spec.url, exc)
    try:
        later = now + timedelta(seconds=min(max(settings.fetch.max_interval, 60.0), 366 * 86400.0))
        new_state = replace(state, last_fetched_at=now, last_status=status, last_error=reason,
                            consecutive_failures=min(state.consecutive_failures + 1, 1_000_000),
                            gone=gone, next_due_at=later)
    except Exception:
        new_state = state
    return FeedResult(spec=spec, status=status, state=new_state, reason=reason, http_status=http_status)


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
