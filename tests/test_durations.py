"""The one duration parser (newsflow.core.durations): the forms people write, and clear refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsflow.core.durations import parse_duration, parse_seconds
from newsflow.core.errors import ConfigError, DurationError


@pytest.mark.parametrize("value, seconds", [
    ("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1d", 86400.0), ("2w", 1209600.0),
    ("1.5h", 5400.0), (" 10 M ", 600.0), ("24H", 86400.0), (45, 45.0), (2.5, 2.5),
])
def test_the_forms_people_write(value: object, seconds: float) -> None:
    assert parse_seconds(value) == seconds
    assert parse_duration(value) == timedelta(seconds=seconds)


def test_the_search_windows_of_the_contract() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration("7d") == timedelta(days=7)


@pytest.mark.parametrize("value", ["yesterday", "", "5 minutes", "-5m", "1e3", "5mm", True, None, [5]])
def test_what_is_not_a_duration_is_refused_with_the_forms_allowed(value: object) -> None:
    with pytest.raises(DurationError, match=r"--since .* is not a duration: .*15m, 24h, 7d") as caught:
        parse_duration(value, "--since")
    assert isinstance(caught.value, ConfigError)


@pytest.mark.parametrize("value", ["0", "0m", 0, -3, float("inf")])
def test_a_duration_must_be_positive(value: object) -> None:
    with pytest.raises(DurationError, match=r"poll_interval .* must be positive"):
        parse_seconds(value, "poll_interval")


def test_one_too_long_for_a_timedelta_is_refused() -> None:
    with pytest.raises(DurationError, match="too long"):
        parse_duration("99999999999999w")
