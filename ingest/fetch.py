"""Polite HTTP fetching of feeds: conditional GET, size limit, redirects, retries, per-host limits.

One `Fetcher` (one httpx.AsyncClient) serves a whole poll. Every request:
- carries the descriptive User-Agent and, when known, If-None-Match / If-Modified-Since;
- waits for a per-host slot (`per_host_concurrency`) and the politeness delay since the host's last
  request;
- connects only to addresses the address policy allows (checked on the resolved address of every
  connection, so each redirect hop is checked too);
- follows redirects itself (at most `max_redirects`, loops detected), remembering the new URL when
  every hop was permanent (301/308);
- streams the body and stops at `max_body_bytes` (after gzip/deflate decoding, so a compression
  bomb stops too);
- retries 5xx, timeouts and connection errors with exponential backoff, and honours Retry-After on
  429/503 up to `max_retry_after` (a longer wait defers the feed to a later poll instead);
- keeps within the feed's one deadline (`FeedClock`, `feed_deadline`): a retry or a Retry-After wait
  that would pass it is not made, and the clock records what the feed was doing when time ran out;
- sends the feed's own credentials (Basic auth, headers from the environment) only to the feed's
  origin, never to a redirect target elsewhere.
Failures raise `FetchError` with the reason; `poll` turns them into failed results. No header value,
however odd, raises anything else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import math
import os
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import anyio
import httpcore
import httpx

from ingest.addresses import AddressPolicy
from ingest.types import FeedSpec
from newsflow.core.errors import FetchFailed, RefusedAddress
from newsflow.core.settings import FetchSettings

_RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})
_PERMANENT = frozenset({301, 308})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A Retry-After longer than this is read as this: the schedule needs a finite number, and a week is
# longer than any sane server asks.
MAX_RETRY_AFTER = 7 * 86400.0
_DIGITS = re.compile(r"[0-9]{1,400}(?:\.[0-9]{1,40})?")  # ASCII only: "²".isdigit() is True
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
          "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")


@dataclass(frozen=True, slots=True)
class Validators:
    """What the last successful fetch said, sent back so an unchanged feed costs a 304."""

    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful fetch: a body, or `not_modified` with none."""

    url: str  # the URL finally read (after redirects)
    status_code: int  # 200, 304, or 0 for a local file
    body: bytes = b""
    not_modified: bool = False
    permanent_url: str = ""  # where every hop was a permanent redirect: the feed's new address
    validators: Validators = Validators()
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names


class FeedClock:
    """One feed's deadline and what the feed is doing, for a reason that says what happened.

    The clock starts at the feed's first request (once its host's slot is ours: waiting for a busy
    host is politeness, not slowness) or when a local file is read; from then on `seconds` bound
    everything. `attach` gives it the asyncio timeout that enforces the bound.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds if seconds > 0 and math.isfinite(seconds) else 120.0
        self.stage = "waiting for its turn"
        self.bytes_read = 0
        self._timer: asyncio.Timeout | None = None
        self._started: float | None = None

    def attach(self, timer: asyncio.Timeout) -> None:
        self._timer = timer
        if self._started is not None:
            timer.reschedule(self._started + self.seconds)

    def start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().time()
            if self._timer is not None:
                self._timer.reschedule(self._started + self.seconds)

    @property
    def started(self) -> bool:
        return self._started is not None

    def elapsed(self) -> float:
        return 0.0 if self._started is None else asyncio.get_running_loop().time() - self._started

    def remaining(self) -> float:
        return math.inf if self._started is None else self.seconds - self.elapsed()

    def deadline_at(self) -> float | None:
        """The loop time of the deadline, None before the clock started."""
        return None if self._started is None else self._started + self.seconds

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the clock meanwhile: waiting for a shared resource (a parser worker busy with another
        feed) is not this feed's slowness, and must not let one slow feed fail the others."""
        if self._started is None or self._timer is None:
            yield
            return
        loop = asyncio.get_running_loop()
        paused_at = loop.time()
        self._timer.reschedule(None)
        try:
            yield
        finally:
            self._started += loop.time() - paused_at
            if not self._timer.expired():  # an expiring timer (being cancelled) may not be rescheduled
                self._timer.reschedule(self._started + self.seconds)

    def exceeded_reason(self) -> str:
        read = f", {self.bytes_read} bytes of the body read" if self.bytes_read else ""
        return (f"feed deadline of {self.seconds:g} s (fetch.feed_deadline) exceeded after "
                f"{self.elapsed():.1f} s while {self.stage}{read}")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a feed sends to its own origin only: extra headers (Authorization included)."""

    origin: tuple[str, str, int]
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, ports defaulted: what "the same origin" compares."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:
        return "", "", 0
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, host, port or (443 if scheme == "https" else 80)


def feed_credentials(spec: FeedSpec) -> Credentials | None:
    """The spec's credentials with their secrets read from the environment now (at fetch time, so
    a worker that loads the feeds file elsewhere uses its own environment). Raises FetchFailed
    naming the variable that is missing."""
    if spec.auth is None and not spec.headers:
        return None
    headers: dict[str, str] = {}
    if spec.auth is not None:
        password = spec.auth.password
        if spec.auth.password_env:
            password = _from_environment(spec, spec.auth.password_env, "auth.password_env")
        token = base64.b64encode(f"{spec.auth.username}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    for header in spec.headers:
        headers[header.name] = _from_environment(spec, header.env, f"headers.{header.name}.env")
    return Credentials(origin=origin_of(spec.url), headers=headers)


def _from_environment(spec: FeedSpec, variable: str, where: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise FetchFailed(spec.url, f"environment variable {variable} ({where} of this feed in the "
                                    "feeds file) is not set: export it where newsflow runs")
    return value


def url_scheme(url: str) -> str:
    """The lower-cased scheme ("" for a plain path, or for a URL that cannot be split)."""
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def is_http_url(url: str) -> bool:
    return url_scheme(url) in ("http", "https")


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, and connects only to a checked one."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, policy: AddressPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:  # one refused address refuses the host: no rebinding games
            reason = self._policy.refusal_reason(address, host)
            if reason is not None:
                raise RefusedAddress(host, reason)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                      local_address=local_address,
                                                      socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, settings: FetchSettings) -> None:
        super().__init__(verify=settings.verify_tls, trust_env=False)
        # httpx exposes no hook for the network backend; its httpcore pool does.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=settings.verify_tls, trust_env=False),
            max_connections=max(settings.concurrency * 2, 10),
            max_keepalive_connections=max(settings.concurrency, 5),
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(httpcore.AnyIOBackend(), AddressPolicy.from_settings(settings)),
        )


def host_of(url: str) -> str:
    """The lower-cased host of a URL, the key of its politeness slots ("" when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class HostReservation:
    """A host slot taken for a feed's first request before the feed starts: the poll's dispatcher
    hands a global slot only to a feed whose host may be requested now, and takes that host's slot
    in the same step, so nothing else can take it in between. Released once (idempotent)."""

    def __init__(self, slots: HostSlots, host: str) -> None:
        self.host = host
        self.used = False
        self._slots = slots
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slots.release(self.host)


@dataclass(slots=True)
class _Host:
    busy: int = 0  # requests holding a slot of this host (or reserved for one)
    next_start: float = 0.0  # monotonic time before which no new request may start
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)  # FIFO of acquire()


class HostSlots:
    """Per-host concurrency limit and politeness delay between two requests to one host.

    Two ways in: `acquire` (a running feed's request: a retry, a redirect hop, robots.txt, an
    article page) waits its turn; `reserve` (the dispatcher, for a feed not started yet) takes a
    slot only if the host may be requested now and no running feed waits for it, else returns
    None. Either way a request start pushes the host's next start one delay later, so two requests
    to one host never start closer than the delay (or the host's robots.txt Crawl-delay)."""

    def __init__(self, per_host: int, delay: float) -> None:
        self._per_host = max(1, per_host)
        self._delay = delay
        self._hosts: dict[str, _Host] = {}
        self._host_delay: dict[str, float] = {}
        self._listeners: list[Callable[[str], None]] = []

    def on_release(self, listener: Callable[[str], None]) -> None:
        """Call `listener(host)` whenever a slot of `host` is released (the dispatcher wakes up)."""
        self._listeners.append(listener)

    def slow_down(self, host: str, delay: float) -> None:
        """Space requests to `host` by at least `delay` seconds (a robots.txt Crawl-delay)."""
        self._host_delay[host] = max(delay, self._host_delay.get(host, 0.0))

    def spacing(self, host: str) -> float:
        return max(self._delay, self._host_delay.get(host, 0.0))

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host()
        return state

    async def acquire(self, host: str) -> None:
        """Wait for a slot of `host` (FIFO) and then for its politeness delay. Pair with `release`."""
        state = self._host(host)
        if state.busy < self._per_host and not state.waiters:
            state.busy += 1
        else:
            turn = asyncio.get_running_loop().create_future()
            state.waiters.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self.release(host)  # the slot was handed to us as we were cancelled: pass it on
                else:
                    with contextlib.suppress(ValueError):
                        state.waiters.remove(turn)
                raise
        try:
            now = time.monotonic()
            start = max(now, state.next_start)
            state.next_start = start + self.spacing(host)
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            self.release(host)
            raise

    def ready_at(self, host: str) -> float | None:
        """When `reserve` could take a slot of `host`; None while its slots are busy or wanted by
        running feeds (a release says when that changes)."""
        state = self._host(host)
        if state.busy >= self._per_host or state.waiters:
            return None
        return state.next_start

    def reserve(self, host: str, now: float) -> HostReservation | None:
        """Take a slot of `host` for a request starting now, if the host may be requested now."""
        ready = self.ready_at(host)
        if ready is None or ready > now:
            return None
        state = self._hosts[host]
        state.busy += 1
        state.next_start = now + self.spacing(host)
        return HostReservation(self, host)

    def began(self, host: str) -> None:
        """A reserved slot's request starts now: the next start is one delay after this one."""
        state = self._host(host)
        state.next_start = max(state.next_start, time.monotonic() + self.spacing(host))

    def release(self, host: str) -> None:
        state = self._host(host)
        while state.waiters:  # hand the slot straight to the first running feed still waiting
            turn = state.waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                break
        else:
            state.busy = max(0, state.busy - 1)
        for listener in self._listeners:
            listener(host)


class Fetcher:
    """Fetches feeds for one poll. Use as `async with Fetcher(settings) as fetcher:`."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self.host_slots = HostSlots(settings.per_host_concurrency, settings.politeness_delay)
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(settings),
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            headers={"User-Agent": settings.user_agent, "Accept": ACCEPT},
            follow_redirects=False,
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, validators: Validators = Validators(), *,
                    clock: FeedClock | None = None, credentials: Credentials | None = None,
                    reservation: HostReservation | None = None) -> Fetched:
        """Fetch a feed (http(s), file:// or a local path). Raises FetchError (or FetchFailed).

        `clock` is the feed's deadline (started here at the first request); `credentials` go to
        their origin only; `reservation`, a slot of the URL's host taken by the dispatcher, serves
        the first request (the caller releases it should it go unused)."""
        clock = clock or FeedClock(self.settings.feed_deadline)
        scheme = url_scheme(url)
        if scheme in ("http", "https"):
            return await self._fetch_with_retries(url, validators, clock, credentials, reservation)
        if scheme and scheme != "file" and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
            raise FetchFailed(url, f"unsupported URL scheme {scheme!r}: use http(s)://, file:// or a path")
        clock.start()
        clock.stage = f"reading the local file {url}"
        return read_local(url, validators, self.settings.max_body_bytes)

    def slow_down(self, host: str, delay: float) -> None:
        """Honour a host's request for a longer delay between requests (capped at max_retry_after)."""
        self.host_slots.slow_down(host.lower(), min(delay, self.settings.max_retry_after))

    async def get_page(self, url: str) -> Fetched:
        """Fetch an article page or robots.txt under the same rules (no validators, no credentials:
        those are the feed's)."""
        if not is_http_url(url):
            raise FetchFailed(url, "only http(s) pages are fetched")
        return await self.fetch(url)

    async def _fetch_with_retries(self, url: str, validators: Validators, clock: FeedClock,
                                  credentials: Credentials | None,
                                  reservation: HostReservation | None) -> Fetched:
        attempt = 0
        while True:
            try:
                return await self._follow(url, validators, clock, credentials, attempt + 1, reservation)
            except FetchFailed as exc:
                if not exc.retryable or attempt >= self.settings.retries:
                    raise
                if exc.retry_after is not None and exc.retry_after > self.settings.max_retry_after:
                    raise  # defer to a later poll rather than hold the cycle
                wait = exc.retry_after if exc.retry_after is not None else self.settings.backoff * 2**attempt
                wait = min(max(0.0, wait), self.settings.max_retry_after)
                if wait >= clock.remaining():
                    raise FetchFailed(exc.url, f"{exc.reason}; not retried: waiting {wait:g} s would pass "
                                               f"the feed deadline of {clock.seconds:g} s "
                                               f"(fetch.feed_deadline, {clock.elapsed():.1f} s used)",
                                      exc.status_code, retry_after=exc.retry_after) from exc
                attempt += 1
                clock.stage = f"waiting {wait:g} s before attempt {attempt + 1} ({exc.reason})"
                await asyncio.sleep(wait)

    async def _follow(self, url: str, validators: Validators, clock: FeedClock,
                      credentials: Credentials | None, attempt: int,
                      reservation: HostReservation | None) -> Fetched:
        seen = [url]
        permanent = True
        current = url
        for hop in range(self.settings.max_redirects + 1):
            where = f"attempt {attempt}" + (f", redirect hop {hop}" if hop else "")
            response_headers, status, body = await self._request(current, validators, clock,
                                                                 credentials, where, reservation)
            if status in _REDIRECTS:
                location = response_headers.get("location", "")
                if not location:
                    raise FetchFailed(current, f"HTTP {status} redirect without a Location header", status)
                try:
                    target = urljoin(current, location.strip())
                except ValueError:
                    raise FetchFailed(current, f"HTTP {status} redirect to an invalid URL refused: "
                                               f"{location[:200]!r}", status) from None
                if not is_http_url(target):
                    raise FetchFailed(current, f"redirect to a non-HTTP URL refused: {target[:200]}", status)
                if target in seen:
                    raise FetchFailed(url, f"redirect loop: {' -> '.join([*seen, target])}", status)
                permanent = permanent and status in _PERMANENT
                seen.append(target)
                current = target
                continue
            return self._outcome(url, current, permanent, status, response_headers, body, validators)
        raise FetchFailed(url, f"too many redirects (more than {self.settings.max_redirects}): "
                               f"{' -> '.join(seen)}")

    def _outcome(self, url: str, current: str, permanent: bool, status: int,
                 headers: Mapping[str, str], body: bytes, validators: Validators) -> Fetched:
        moved = current if permanent and current != url else ""
        if status == 304:
            return Fetched(url=current, status_code=304, not_modified=True, permanent_url=moved,
                           validators=Validators(headers.get("etag", validators.etag),
                                                 headers.get("last-modified", validators.last_modified)),
                           headers=headers)
        if 200 <= status < 300:
            return Fetched(url=current, status_code=status, body=body, permanent_url=moved,
                           validators=Validators(headers.get("etag", ""), headers.get("last-modified", "")),
                           content_type=headers.get("content-type", ""), headers=headers)
        retry_after = parse_retry_after(headers.get("retry-after", "")) if status in (429, 503) else None
        if status == 410:
            raise FetchFailed(current, "HTTP 410 Gone: the publisher removed the feed; it will not be "
                                       "polled again (remove it from the feeds file)", status, gone=True)
        reason = {404: "HTTP 404 Not Found: check the feed URL",
                  429: "HTTP 429 Too Many Requests: the server asks us to slow down",
                  401: "HTTP 401 Unauthorized: the feed needs credentials",
                  403: "HTTP 403 Forbidden: the server refuses this client"}.get(status, f"HTTP {status}")
        if retry_after is not None:
            reason += f" (Retry-After {retry_after:g} s)"
        retryable = retry_after is not None or status in _RETRY_STATUSES
        raise FetchFailed(current, reason, status, retryable=retryable, retry_after=retry_after)

    async def _request(self, url: str, validators: Validators, clock: FeedClock,
                       credentials: Credentials | None, where: str,
                       reservation: HostReservation | None = None) -> tuple[dict[str, str], int, bytes]:
        try:
            urlsplit(url)
        except ValueError as exc:
            raise FetchFailed(url, f"invalid URL: {exc}") from exc
        host = host_of(url)
        headers: dict[str, str] = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        if credentials is not None and origin_of(url) == credentials.origin:
            headers.update(credentials.headers)  # never to a redirect target on another origin
        clock.stage = f"waiting for a slot of {host} ({where})"
        if reservation is not None and not reservation.used and reservation.host == host:
            reservation.used = True  # the dispatcher took this host's slot for this very request
            self.host_slots.began(host)
            release = reservation.release
        else:
            await self.host_slots.acquire(host)
            release = functools.partial(self.host_slots.release, host)
        clock.start()
        started = time.monotonic()
        try:
            # The whole-download limit starts once the host's slot is ours: waiting in a busy host's
            # queue is politeness, not slowness.
            clock.stage = f"waiting for the response headers of {url} ({where})"
            clock.bytes_read = 0
            async with asyncio.timeout(self.settings.total_timeout), \
                    self._client.stream("GET", url, headers=headers) as response:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code != 200:
                    return response_headers, response.status_code, b""
                clock.stage = f"reading the body of {url} ({where})"
                return response_headers, 200, await self._read_limited(url, response, clock)
        except TimeoutError as exc:
            limit = self.settings.total_timeout
            raise FetchFailed(url, f"download timed out after {time.monotonic() - started:.1f} s "
                                   f"({where}; fetch.total_timeout is {limit:g} s for the whole download: "
                                   "a server trickling bytes)", retryable=True) from exc
        except RefusedAddress as exc:
            raise FetchFailed(url, exc.reason) from exc
        except httpx.TimeoutException as exc:
            raise FetchFailed(url, f"timed out ({type(exc).__name__}): the server is too slow",
                              retryable=True) from exc
        except httpx.TransportError as exc:
            raise FetchFailed(url, f"connection failed: {type(exc).__name__}: {exc}", retryable=True) from exc
        except httpx.InvalidURL as exc:  # httpx parses a redirect's Location itself, so this may be it
            raise FetchFailed(url, f"invalid URL or redirect target refused: {exc}") from exc
        except httpx.HTTPError as exc:  # e.g. a body that claims gzip but is not
            raise FetchFailed(url, f"{type(exc).__name__}: {exc}") from exc
        except (httpcore.ProtocolError, ValueError, UnicodeError) as exc:  # what a garbled reply raises
            raise FetchFailed(url, f"invalid response: {type(exc).__name__}: {exc}") from exc
        finally:
            release()

    async def _read_limited(self, url: str, response: httpx.Response, clock: FeedClock) -> bytes:
        limit = self.settings.max_body_bytes
        declared = response.headers.get("content-length", "").strip()
        if _DIGITS.fullmatch(declared) and "." not in declared and int(declared) > limit:
            raise FetchFailed(url, f"body of {int(declared)} bytes is over the limit of {limit} bytes "
                                   "(fetch.max_body_bytes)", response.status_code)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            clock.bytes_read = size
            if size > limit:
                raise FetchFailed(url, f"body is over the limit of {limit} bytes (fetch.max_body_bytes)",
                                  response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)


def read_local(url: str, validators: Validators, max_bytes: int) -> Fetched:
    """Read a feed from a local path or file:// URL; its mtime and size act as the validator."""
    path = Path(unquote(urlsplit(url).path)) if url_scheme(url) == "file" else Path(url)
    try:
        stat = path.stat()
    except OSError as exc:
        raise FetchFailed(url, f"cannot read the feed file: {exc.strerror or exc}") from exc
    stamp = f"file:{stat.st_mtime_ns}:{stat.st_size}"
    if validators.etag == stamp:
        return Fetched(url=url, status_code=0, not_modified=True, validators=validators)
    if stat.st_size > max_bytes:
        raise FetchFailed(url, f"feed file of {stat.st_size} bytes is over the limit of {max_bytes} bytes")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise FetchFailed(url, f"cannot read the feed file: {exc.strerror or exc}") from exc
    return Fetched(url=url, status_code=0, body=body, validators=Validators(etag=stamp))


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date; None when absent or invalid.

    Total over any header value: a huge number or a date in year 9999 gives MAX_RETRY_AFTER, a date
    in the past 0, garbage None. Never raises."""
    try:
        value = str(value).strip()
        if not value or len(value) > 500:
            return None
        if _DIGITS.fullmatch(value):
            seconds = float(value)  # 400 digits give inf, clamped below
        else:
            when = parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
    except (TypeError, ValueError, OverflowError, IndexError, AttributeError):
        return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)
