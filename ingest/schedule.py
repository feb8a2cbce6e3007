"""When each feed is polled next: pure decisions over feed state and what the last poll saw.

The interval is the larger of the publisher's hints (Cache-Control max-age / Expires, RSS `<ttl>`,
`sy:updatePeriod`/`sy:updateFrequency`) and half the observed gap between recent items (a feed that
publishes every 4 hours is polled every 2), clamped between `min_interval` and `max_interval`.
Without any of these, `default_interval`. A per-feed `poll_interval` in the feeds file wins (at least 60 s).
After failures the interval doubles per consecutive failure (up to the ceiling); a Retry-After
from the server is always honoured.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from ingest.types import FeedSpec, FeedState
from newsflow.settings import FetchSettings

RECENT_ITEMS = 20  # item dates remembered per feed for the observed frequency
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PollHints:
    """What one poll saw that bears on the next one."""

    cache_seconds: float | None = None  # Cache-Control max-age, or Expires minus Date
    ttl: float | None = None  # seconds
    update_period: float | None = None  # seconds
    item_times: tuple[datetime, ...] = ()  # newest first


def select_due(specs: Sequence[FeedSpec], states: Mapping[str, FeedState], now: datetime) -> list[FeedSpec]:
    """The feeds whose time has come: no state yet, or next_due_at reached; never a gone feed."""
    due: list[FeedSpec] = []
    for spec in specs:
        state = states.get(spec.key)
        if state is None:
            due.append(spec)
        elif state.gone:
            continue
        elif state.next_due_at is None or state.next_due_at <= now:
            due.append(spec)
    return due


def cache_seconds(headers: Mapping[str, str]) -> float | None:
    """Freshness the server declares: Cache-Control max-age, else Expires minus Date (lower-case names)."""
    control = headers.get("cache-control", "")
    if "no-cache" in control.lower() or "no-store" in control.lower():
        return None
    match = _MAX_AGE.search(control)
    if match:
        return float(match.group(1))
    expires = headers.get("expires", "")
    if not expires:
        return None
    try:
        expires_at = parsedate_to_datetime(expires)
        date_at = parsedate_to_datetime(headers["date"]) if headers.get("date") else None
    except (TypeError, ValueError, IndexError):
        return None
    if date_at is None or expires_at.tzinfo is None or date_at.tzinfo is None:
        return None
    seconds = (expires_at - date_at).total_seconds()
    return seconds if seconds > 0 else None


def observed_gap(item_times: Sequence[datetime]) -> float | None:
    """The median gap in seconds between consecutive distinct item dates; None below 3 dates."""
    times = sorted(set(item_times), reverse=True)[:RECENT_ITEMS]
    if len(times) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    return statistics.median(gaps)


def poll_interval(spec: FeedSpec, hints: PollHints, settings: FetchSettings) -> float:
    """Seconds until the next poll after a successful one."""
    if spec.poll_interval:
        return max(spec.poll_interval, 60.0)
    declared = [h for h in (hints.cache_seconds, hints.ttl, hints.update_period) if h]
    gap = observed_gap(hints.item_times)
    candidates = [*declared, *([gap / 2] if gap else [])]
    interval = max(candidates) if candidates else settings.default_interval
    return min(max(interval, settings.min_interval), settings.max_interval)


def failure_delay(spec: FeedSpec, failures: int, settings: FetchSettings, retry_after: float | None) -> float:
    """Seconds until the next attempt after `failures` consecutive failures (1 = the first)."""
    base = spec.poll_interval or settings.min_interval
    delay = min(base * 2 ** max(0, failures - 1), settings.max_interval)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def next_due(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def merge_item_times(new: Sequence[datetime], old: Sequence[datetime]) -> tuple[datetime, ...]:
    """The RECENT_ITEMS newest distinct item dates of both lists, newest first."""
    return tuple(sorted(set(new) | set(old), reverse=True)[:RECENT_ITEMS])
