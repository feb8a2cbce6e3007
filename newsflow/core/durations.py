"""Durations as people write them: "90s", "15m", "2h", "1.5d", "2w", or a number of seconds.

One parser for every place newsflow reads a duration: a feed's `poll_interval` in the feeds file,
`newsflow search --since`. (The DAG file's NEWSFLOW_INGEST_SCHEDULE follows the same grammar with a
copy of its own, because a DAG file imports nothing but the Airflow SDK at parse time; a test keeps
the two in step.)
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from newsflow.core.errors import DurationError

# A number (decimals allowed), optional spaces, an optional unit; a number alone is seconds.
DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_seconds(value: object, what: str = "duration") -> float:
    """Positive seconds from a number or a text like "90", "15m", "2h", "1d", "2w".

    Raises DurationError naming `what` (e.g. "poll_interval") and the forms allowed."""
    if isinstance(value, bool):
        raise DurationError(what, value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = DURATION_PATTERN.match(value)
        if not match:
            raise DurationError(what, value)
        seconds = float(match.group(1)) * UNIT_SECONDS[match.group(2).lower()]
    else:
        raise DurationError(what, value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise DurationError(what, value, "must be positive")
    return seconds


def parse_duration(value: object, what: str = "duration") -> timedelta:
    """The same as `parse_seconds`, as a timedelta."""
    seconds = parse_seconds(value, what)
    try:
        return timedelta(seconds=seconds)
    except OverflowError as exc:
        raise DurationError(what, value, "is too long") from exc


def format_seconds(seconds: float) -> str:
    """A duration as the largest whole unit that fits: 3600 -> "1h", 90 -> "90s", 604800 -> "7d". Pure."""
    for unit in ("d", "h", "m"):
        size = UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
