"""Digest periods: which hour, day or week (of a rule's time zone) a moment falls in. Pure.

A period is counted in the rule's time zone, so a daily digest for Europe/Berlin covers a Berlin
day (23 or 25 hours across a daylight-saving change), and is kept in UTC. A digest's id is a hash
of the rule, the period kind and the period's start: the same on every run and every retry, so a
receiver can recognise a digest delivered again after a crash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from newsflow.core.models import format_utc


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC, one hour, day or week of `timezone`."""

    kind: str  # hourly | daily | weekly
    timezone: str
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """How the period is named in a message, in its own time zone: "2026-12-03 14:00-15:00
        Europe/Berlin", "2026-12-03 UTC", "week of 2026-11-30 UTC"."""
        zone = ZoneInfo(self.timezone)
        start = self.start.astimezone(zone)
        if self.kind == "hourly":
            end = self.end.astimezone(zone)
            return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} {self.timezone}"
        if self.kind == "daily":
            return f"{start:%Y-%m-%d} {self.timezone}"
        if self.kind == "weekly":
            return f"week of {start:%Y-%m-%d} {self.timezone}"
        return f"{start:%Y-%m-%d %H:%M} to {self.end.astimezone(zone):%Y-%m-%d %H:%M} {self.timezone}"


def period_containing(when: datetime, kind: str, timezone: str) -> Period:
    """The period of `kind` (hourly, daily, weekly; weeks start on Monday) that holds `when`."""
    zone = ZoneInfo(timezone)
    local = when.astimezone(zone)
    if kind == "hourly":
        # Counted in UTC hours shifted by the zone's offset, so an hour is 60 minutes even where
        # the clock goes back (two local 02:00-03:00 hours are two periods).
        start_local = local.replace(minute=0, second=0, microsecond=0)
        start = start_local.astimezone(UTC)
        return Period(kind, timezone, start, start + timedelta(hours=1))
    if kind == "daily":
        first = local.date()
        following = first + timedelta(days=1)
    elif kind == "weekly":
        first = local.date() - timedelta(days=local.weekday())
        following = first + timedelta(days=7)
    else:
        raise ValueError(f"unknown digest period {kind!r}")
    return Period(kind, timezone, _midnight(first, zone), _midnight(following, zone))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def digest_id_for(rule: str, period: Period) -> str:
    """The stable id of the digest of `rule` for `period`."""
    key = f"{rule}\n{period.kind}\n{period.timezone}\n{format_utc(period.start)}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
