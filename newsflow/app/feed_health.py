"""Feed health: every feed as the operator sees it, one model for the CLI (`newsflow feeds`), the
news_maintenance DAG (its feed-health report) and the Airflow plugin page.

A feed's `health` is the judgement, in one vocabulary:

    ok          polled, and its last poll succeeded (fetched or not modified)
    failing     its last poll failed, or it failed since its last success
    gone        the server answered 410 Gone: it is not polled again unless the feeds file changes
    not_polled  listed in the feeds file (or stored) but never polled yet

`last_status` is the raw outcome of the last poll (an ingest FeedStatus: fetched, not_modified,
failed, gone; "" before the first). The model holds the values as stored; `redacted()` is the copy
to show or to pass on (no credentials or token-like parts in URLs and errors).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from newsflow.core.redact import redact_text, redact_url

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from ingest.types import FeedSpec, FeedState
    from newsflow.core.settings import Settings

Health = Literal["ok", "failing", "gone", "not_polled"]
HEALTH_ORDER: Mapping[str, int] = {"failing": 0, "gone": 1, "not_polled": 2, "ok": 3}  # troubled first
TROUBLED = frozenset({"failing", "gone"})


@dataclasses.dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed as the operator sees it."""

    name: str  # the name in the feeds file, else the feed's own title, else its URL
    url: str  # the URL in the feeds file
    health: str  # a Health (see the module docstring)
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_status: str  # the last poll's FeedStatus; "" before the first poll
    last_error: str  # the reason of the last failure ("" if none)
    consecutive_failures: int
    articles_total: int  # articles this feed contributed, cumulative
    next_due_at: datetime | None  # None = due now (or never, when gone)
    current_url: str = ""  # where a permanent redirect moved it; "" = url
    item_count: int = 0  # items in the last successful parse

    @property
    def troubled(self) -> bool:
        return self.health in TROUBLED

    def redacted(self) -> FeedHealth:
        """The copy to show or pass on: URLs without credentials or tokens, and errors that quote
        them masked the same way."""
        error = self.last_error
        for address in (self.url, self.current_url):
            if address:
                error = redact_text(error, address)
        return dataclasses.replace(
            self, name=redact_text(self.name, self.url), url=redact_url(self.url),
            current_url=redact_url(self.current_url) if self.current_url else "", last_error=error)

    def to_json(self) -> dict[str, Any]:
        """The redacted values, JSON-ready (datetimes in ISO 8601)."""
        values = {field.name: getattr(self.redacted(), field.name) for field in dataclasses.fields(self)}
        for key, value in values.items():
            if isinstance(value, datetime):
                values[key] = value.isoformat()
        return values


def health_of(spec: FeedSpec | None, state: FeedState | None) -> FeedHealth:
    """One feed's health from its line in the feeds file (if any) and its stored state (if any). Pure."""
    url = spec.url if spec is not None else state.url if state is not None else ""
    name = spec.name if spec is not None else ""
    if state is None:
        return FeedHealth(name=name or url, url=url, health="not_polled", last_fetched_at=None,
                          last_success_at=None, last_status="", last_error="", consecutive_failures=0,
                          articles_total=0, next_due_at=None)
    health: Health
    if state.gone:
        health = "gone"
    elif state.consecutive_failures > 0 or state.last_status == "failed":
        health = "failing"
    elif not state.last_status:
        health = "not_polled"
    else:
        health = "ok"
    return FeedHealth(
        name=name or state.title or url, url=url, health=health,
        last_fetched_at=state.last_fetched_at, last_success_at=state.last_success_at,
        last_status=state.last_status, last_error=state.last_error,
        consecutive_failures=state.consecutive_failures, articles_total=state.articles_total,
        next_due_at=None if state.gone else state.next_due_at,
        current_url=state.current_url, item_count=state.item_count,
    )


def feed_health(specs: Sequence[FeedSpec], states: Iterable[FeedState], *, listed_only: bool = False,
                troubled_first: bool = True) -> list[FeedHealth]:
    """Join the feeds file (may be empty) with the stored states: every listed feed, and (unless
    `listed_only`) every other feed with a state. With `troubled_first`, failing and gone feeds
    first, then by name; else in the file's order, then the states' order. Pure."""
    by_key = {state.key: state for state in states}
    rows = [health_of(spec, by_key.pop(spec.key, None)) for spec in specs]
    if not listed_only:
        rows += [health_of(None, state) for state in by_key.values()]  # not (or no longer) listed
    if troubled_first:
        rows.sort(key=lambda row: (HEALTH_ORDER.get(row.health, 9), row.name.lower(), row.url))
    return rows


def load_feed_health(client: Elasticsearch, settings: Settings, feeds_file: Path | None = None, *,
                     listed_only: bool = False, troubled_first: bool = True) -> list[FeedHealth]:
    """Feed health from the states in Elasticsearch, joined with the feeds file when one is given
    (see `feed_health`; `listed_only` applies to a feeds file). No feed-state index yet means no
    feed was polled."""
    from ingest.feeds import load_feeds
    from ingest.state import FeedStateStore

    if feeds_file is None:  # every stored feed, by URL
        return feed_health([], FeedStateStore(client, settings).load_all(), troubled_first=troubled_first)
    specs = load_feeds(feeds_file)
    store = FeedStateStore(client, settings)
    states: Iterable[FeedState] = (store.load(spec.key for spec in specs).values() if listed_only
                                   else store.load_all())  # [] when the index does not exist
    return feed_health(specs, states, listed_only=listed_only, troubled_first=troubled_first)


def count_by_health(rows: Iterable[FeedHealth]) -> dict[str, int]:
    """How many feeds are ok, failing, gone, not polled (only the healths that occur)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.health] = counts.get(row.health, 0) + 1
    return counts
