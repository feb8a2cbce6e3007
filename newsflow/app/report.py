"""What a cycle reports, and the clock its stages are timed with.

`CycleReport.to_json()` is the `newsflow run --json` object of the contract; the Airflow tasks keep
its counts (newsflow.app.tasks.compact_report). The observer protocol is how a caller (the CLI's
progress bars) follows the stages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from newsflow.core.redact import redact_text, redact_url

if TYPE_CHECKING:
    from ingest.types import FeedResult
    from newsflow.alerts.processing import AlertTotals

log = logging.getLogger(__name__)


class CycleObserver(Protocol):
    """Hooks a caller may implement to show progress (the CLI draws progress bars with them)."""

    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, name: str, amount: int = 1) -> None: ...


class SilentObserver:
    """The observer when the caller gives none: stages go to the log."""

    def stage(self, name: str, total: int | None = None) -> None:
        log.info("stage %s%s", name, f" ({total})" if total is not None else "")

    def advance(self, name: str, amount: int = 1) -> None:
        pass


@dataclass(frozen=True, slots=True)
class FeedFailure:
    url: str
    name: str
    reason: str
    status: str = "failed"  # failed or gone


@dataclass(frozen=True, slots=True)
class AlertReport:
    matched: int = 0  # rule × article matches
    created: int = 0  # new alerts (first match of a rule on a story)
    sent: int = 0
    failed: int = 0  # deliveries given up this cycle
    deferred: int = 0  # deliveries to retry next cycle
    skipped_reason: str = ""  # why alert processing did not run, if it did not
    failures: tuple[str, ...] = ()  # each delivery given up this cycle: rule, channel and error

    @classmethod
    def of(cls, totals: AlertTotals, *, skipped_reason: str = "") -> AlertReport:
        """The report of an alert run's totals; each delivery given up is logged."""
        failures = tuple(
            f"rule {f.rule!r}, story {f.story_id}, {f.channel}: {f.error} (after {f.attempts} attempts)"
            for f in totals.failures
        )
        for failure in failures:
            log.warning("alert delivery failed: %s", failure)
        return cls(matched=totals.matched, created=totals.created, sent=totals.sent,
                   failed=totals.failed, deferred=totals.deferred, failures=failures,
                   skipped_reason=skipped_reason)


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one cycle did. `to_json()` is the `newsflow run --json` object of the contract."""

    feeds_total: int = 0
    fetched: int = 0
    not_modified: int = 0
    failed: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    spooled: int = 0  # articles waiting on disk for Elasticsearch (after this cycle)
    from_spool: int = 0  # articles of earlier cycles indexed by this one
    spool_added: int = 0  # articles this cycle put in the spool (not already there with that content)
    not_kept: int = 0  # articles neither indexed nor spooled: their feeds are fetched again next cycle
    quarantined: tuple[str, ...] = ()  # corrupt spool batch files moved to the quarantine folder
    alerts: AlertReport = AlertReport()
    failures: tuple[FeedFailure, ...] = ()
    problems: tuple[str, ...] = ()  # cycle-level trouble, e.g. Elasticsearch unreachable
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "feeds": {
                "total": self.feeds_total,
                "fetched": self.fetched,
                "not_modified": self.not_modified,
                "failed": self.failed,
            },
            "articles": {"new": self.new, "updated": self.updated, "unchanged": self.unchanged},
            "indexed": self.indexed,
            "alerts": {"sent": self.alerts.sent, "failed": self.alerts.failed},
            # Extensions beyond the contract:
            "dead_lettered": self.dead_lettered,
            "spooled": self.spooled,
            "from_spool": self.from_spool,
            "spool_added": self.spool_added,
            "not_kept": self.not_kept,
            "quarantined": list(self.quarantined),
            "alerts_detail": {
                "matched": self.alerts.matched,
                "created": self.alerts.created,
                "deferred": self.alerts.deferred,
                "failures": list(self.alerts.failures),
            },
            "failures": [
                {"url": f.url, "name": f.name, "status": f.status, "reason": f.reason}
                for f in self.failures
            ],
            "problems": list(self.problems),
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }


def feed_counts(results: Sequence[FeedResult]) -> CycleReport:
    """The feed part of a report: how many were fetched, not modified or failed (each failure logged)."""
    failures = tuple(
        # Redacted: the report goes to logs, stdout and XCom (a feed URL may carry a token).
        FeedFailure(url=redact_url(r.spec.url), name=r.spec.name or r.state.title,
                    reason=redact_text(r.reason, r.spec.url), status=r.status)
        for r in results if r.status in ("failed", "gone")
    )
    for failure in failures:
        log.warning("feed %s failed: %s", failure.url, failure.reason)
    return CycleReport(
        feeds_total=len(results),
        fetched=sum(1 for r in results if r.status == "fetched"),
        not_modified=sum(1 for r in results if r.status == "not_modified"),
        failed=len(failures),
        failures=failures,
    )


class StageClock:
    """Wall time per stage, for the report and the benchmark: `with clock("index"): ...` adds the
    block's time to the stage (a stage entered several times sums its blocks)."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._started = time.perf_counter()

    def __call__(self, name: str) -> _Timer:
        return _Timer(self, name)

    def total(self) -> float:
        return time.perf_counter() - self._started


class _Timer:
    def __init__(self, clock: StageClock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.clock.stages[self.name] = (
            self.clock.stages.get(self.name, 0.0) + time.perf_counter() - self.start
        )


def increments(advance: Callable[[int], None]) -> Callable[[int], None]:
    """Adapt a running-total callback (enrich reports articles done so far) to increments."""
    done = 0

    def report(total: int) -> None:
        nonlocal done
        advance(total - done)
        done = total

    return report
