"""When each feed is polled next: pure decisions over feed state and what the last poll saw.

The interval is the larger of the publisher's hints (Cache-Control max-age / Expires, RSS `<ttl>`,
`sy:updatePeriod`/`sy:updateFrequency`) and half the observed gap between recent items (a feed that
publishes every 4 hours is polled every 2), clamped between `min_interval` and `max_interval`.
Without any of these, `default_interval`. A per-feed `poll_interval` in the feeds file wins (at least 60 s).
After failures the interval doubles per consecutive failure (up to the ceiling); a Retry-After
from the server is always honoured, up to MAX_RETRY_AFTER (7 days).

Every number here comes from the network or from stored state, so every function is total: any
int or float (negative, NaN, infinite, 1e300, 10**400) or a value of the wrong type gives a next
poll between the floor and the ceiling (or an honoured Retry-After within its own ceiling), never
an exception. A value that is not a number counts as absent.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from ingest.types import FeedSpec, FeedState
from newsflow.core.settings import FetchSettings

RECENT_ITEMS = 20  # item dates remembered per feed for the observed frequency
MAX_RETRY_AFTER = 7 * 86400.0  # a longer Retry-After (or Expires) is honoured as 7 days
# No next poll is ever further away than this, whatever the settings or the server say.
MAX_DELAY = 366 * 86400.0
_LATEST = datetime.max.replace(tzinfo=UTC)
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PollHints:
    """What one poll saw that bears on the next one."""

    cache_seconds: float | None = None  # Cache-Control max-age, or Expires minus Date
    ttl: float | None = None  # seconds
    update_period: float | None = None  # seconds
    item_times: tuple[datetime, ...] = ()  # newest first


# A run that plans once a minute sees a feed due a few seconds after its plan only at the next run, a
# whole tick later: measured, a 60 s interval became 117 s between polls (docs/benchmark.md,
# Freshness). So a feed due within this slack of `now` counts as due, never more than a quarter of
# its own interval early.
DUE_SLACK = timedelta(seconds=20)


def select_due(specs: Sequence[FeedSpec], states: Mapping[str, FeedState], now: datetime,
               slack: timedelta = DUE_SLACK, *, pushed: Collection[str] = frozenset(),
               safety_poll: float = 86400.0) -> list[FeedSpec]:
    """The feeds whose time has come: no state yet, or their due time reached (or within `slack`,
    at most a quarter of the feed's interval); never a gone feed. A feed whose key is in `pushed`
    (an active WebSub subscription) is due no sooner than `safety_poll` seconds after its last poll."""
    due: list[FeedSpec] = []
    for spec in specs:
        state = states.get(spec.key)
        if state is None:
            due.append(spec)
        elif state.gone:
            continue
        else:
            at = due_at(state, safety_poll if spec.key in pushed else None)
            if at is None or at <= now + _early(state, at, slack):
                due.append(spec)
    return due


def due_at(state: FeedState, safety_poll: float | None = None) -> datetime | None:
    """When the feed is next polled (None: now): its next_due_at, or with a `safety_poll` (a pushed
    feed) the later of that and its last poll plus `safety_poll` seconds (clamped like `next_due`)."""
    if safety_poll is None or state.last_fetched_at is None:
        return state.next_due_at
    safety = next_due(state.last_fetched_at, safety_poll)
    return safety if state.next_due_at is None else max(state.next_due_at, safety)


def _early(state: FeedState, at: datetime | None, slack: timedelta) -> timedelta:
    """How early `state`'s feed may be polled: `slack`, at most a quarter of its interval (from its
    last poll to `at`)."""
    if at is None or state.last_fetched_at is None or slack <= timedelta(0):
        return timedelta(0)
    interval = at - state.last_fetched_at
    return max(timedelta(0), min(slack, interval / 4))


def cache_seconds(headers: Mapping[str, str]) -> float | None:
    """Freshness the server declares: Cache-Control max-age, else Expires minus Date (lower-case names)."""
    control = headers.get("cache-control", "")
    if "no-cache" in control.lower() or "no-store" in control.lower():
        return None
    match = _MAX_AGE.search(control)
    if match:
        digits = match.group(1)  # 400 digits are a number too: clamped, never converted whole
        return MAX_RETRY_AFTER if len(digits) > 9 else min(float(digits), MAX_RETRY_AFTER)
    expires = headers.get("expires", "")
    if not expires:
        return None
    try:
        expires_at = parsedate_to_datetime(expires)
        date_at = parsedate_to_datetime(headers["date"]) if headers.get("date") else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if date_at is None or expires_at.tzinfo is None or date_at.tzinfo is None:
        return None
    try:
        seconds = (expires_at - date_at).total_seconds()
    except OverflowError:
        return None
    return min(seconds, MAX_RETRY_AFTER) if seconds > 0 else None


def observed_gap(item_times: Sequence[datetime]) -> float | None:
    """The median gap in seconds between consecutive distinct item dates; None below 3 dates."""
    times = sorted(_aware(item_times), reverse=True)[:RECENT_ITEMS]
    if len(times) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    return statistics.median(gaps)


def poll_interval(spec: FeedSpec, hints: PollHints, settings: FetchSettings) -> float:
    """Seconds until the next poll after a successful one: within [min_interval, max_interval]
    (a feeds-file poll_interval: at least 60 s)."""
    floor, ceiling = _bounds(settings)
    own = seconds_or_none(spec.poll_interval, ceiling=MAX_DELAY)
    if own:
        return max(own, 60.0)
    declared = [seconds_or_none(h, ceiling=MAX_DELAY) for h in (hints.cache_seconds, hints.ttl,
                                                               hints.update_period)]
    gap = seconds_or_none(observed_gap(hints.item_times), ceiling=MAX_DELAY)
    candidates = [h for h in declared if h] + ([gap / 2] if gap else [])
    default = seconds_or_none(settings.default_interval, ceiling=MAX_DELAY)
    interval = max(candidates) if candidates else (default or floor)
    return min(max(interval, floor), ceiling)


def failure_delay(spec: FeedSpec, failures: int, settings: FetchSettings, retry_after: float | None) -> float:
    """Seconds until the next attempt after `failures` consecutive failures (1 = the first): the
    interval doubled per failure up to max_interval, or the server's Retry-After when longer (at
    most MAX_RETRY_AFTER)."""
    floor, ceiling = _bounds(settings)
    base = seconds_or_none(spec.poll_interval, ceiling=MAX_DELAY) or floor
    count = failures if isinstance(failures, int) and not isinstance(failures, bool) else (
        int(min(failures, 64)) if isinstance(failures, float) and math.isfinite(failures) else 1)
    # Past 64 doublings every delay is the ceiling: never raise 2 to a stored 1e11 (or 1025 into a
    # float, which overflows).
    exponent = min(max(0, count - 1), 64)
    delay = min(max(base, 1.0) * 2.0 ** exponent, ceiling)
    honoured = seconds_or_none(retry_after, ceiling=MAX_RETRY_AFTER)
    if honoured is not None:
        delay = max(delay, honoured)
    return delay


def next_due(now: datetime, seconds: float) -> datetime:
    """`now` plus `seconds`, clamped to [0, MAX_DELAY] seconds (NaN or not a number: 0) and to
    the last representable time; never OverflowError."""
    delay = seconds_or_none(seconds, ceiling=MAX_DELAY) or 0.0
    try:
        return now + timedelta(seconds=delay)
    except OverflowError:
        return _LATEST if now.tzinfo is not None else datetime.max


def seconds_or_none(value: object, *, ceiling: float) -> float | None:
    """A number of seconds from the network or stored state, clamped to [0, ceiling]; None when
    it is not a number at all (None, NaN, a string, a bool). Exact for ints of any size."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):  # int vs float comparisons are exact: 10**400 does not overflow
        return float(ceiling) if value > ceiling else float(max(value, 0))
    if math.isnan(value):
        return None
    return min(max(value, 0.0), ceiling)


def _bounds(settings: FetchSettings) -> tuple[float, float]:
    # Settings are validated as floats, but a floor above the ceiling must not invert the clamp.
    floor = seconds_or_none(settings.min_interval, ceiling=MAX_DELAY) or 60.0
    ceiling = seconds_or_none(settings.max_interval, ceiling=MAX_DELAY) or floor
    return floor, max(floor, ceiling)


def _aware(times: Sequence[object]) -> set[datetime]:
    # Only aware datetimes can be ordered together; anything else in stored state is dropped.
    return {t for t in times if isinstance(t, datetime) and t.tzinfo is not None}


def merge_item_times(new: Sequence[datetime], old: Sequence[datetime]) -> tuple[datetime, ...]:
    """The RECENT_ITEMS newest distinct item dates of both lists, newest first."""
    return tuple(sorted(_aware(new) | _aware(old), reverse=True)[:RECENT_ITEMS])
