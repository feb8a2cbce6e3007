"""What the Airflow tasks do, as plain functions (importable and testable without Airflow).

Each function takes small arguments and returns a small JSON-able dict or list, because that is what
passes through XCom: feed URLs and counts, never articles. Settings come from the Airflow connection
`newsflow_elasticsearch` when it exists, else from the environment (newsflow.app.airflow_settings);
tests pass `settings=` explicitly.

Heavy libraries (spaCy, the Elasticsearch client) are imported inside the functions, so a DAG file
that imports this module stays fast to parse.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from newsflow.app import feed_health
from newsflow.app.feed_health import TROUBLED, FeedHealth, count_by_health
from newsflow.core.errors import ConfigError, IndexError_
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from ingest.types import FeedSpec
    from newsflow.alerts.overview import RuleWithAlerts

log = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = 50
MAX_FAILURES_IN_RESULT = 20  # a shard's result lists at most this many failed feeds (XCom stays small)
# The parts of a cycle report a shard's XCom keeps: counts (and seconds) only. Reasons, problem
# messages and delivery errors go to the task log, where nothing is stored per run in the
# metadata database (and a delivery error may carry a webhook URL with a token).
SHARD_COUNTS = ("feeds", "articles", "indexed", "dead_lettered", "spooled", "from_spool", "seconds",
                "stage_seconds")


# --- news_ingest ---------------------------------------------------------------------------------

def plan_shards(feeds_file: str | None, shard_size: int = DEFAULT_SHARD_SIZE, *,
                settings: Settings | None = None) -> list[list[str]]:
    """The URLs of the feeds that are due now, in shards of at most `shard_size` feeds.

    Feeds of one host land in the same shard where possible, so the per-host politeness limits of
    one process hold (two shards running at once could otherwise hit one host twice as hard).
    """
    from newsflow.app.cycle import Pipeline, load_feed_specs

    settings = settings or _settings()
    specs = load_feed_specs(feeds_path(feeds_file, settings))
    with Pipeline(settings) as pipeline:
        due = pipeline.select_due(specs)
    shards = shard_by_host([spec.url for spec in due], shard_size)
    log.info("%d of %d feed(s) due, in %d shard(s) of at most %d", len(due), len(specs), len(shards),
             shard_size)
    return shards


def ingest_shard(feeds_file: str | None, feed_urls: Sequence[str], *,
                 settings: Settings | None = None) -> dict[str, Any]:
    """Fetch, normalise, enrich, index and match alerts for the given feeds (as listed in the feeds
    file); the counts, with the shard's alert counts under `alerts`.

    As in `newsflow run`, each group of indexed articles is matched against the rules while later
    groups are still in NER, and its new alerts are delivered at once (alert ids are deterministic
    per rule and story, so a shard retried never alerts twice; a story this shard founded while
    another shard clustered a copy of it is merged into that copy's story before its alerts are
    recorded, newsflow.alerts.story_merge, so that copy does not alert twice either). What the
    shard could not match (Elasticsearch refused, another run held the recording lock) stays in the
    alert queue for `process_alerts`; with e-mail digests the new alerts are left pending for it, so
    each rule still gets one digest per run. Volume rules (spike, first seen) are checked there too,
    once every shard has indexed.
    """
    from newsflow.app.cycle import Pipeline, load_feed_specs
    from newsflow.app.report import AlertReport

    settings = settings or _settings()
    specs = select_specs(load_feed_specs(feeds_path(feeds_file, settings)), feed_urls)
    with Pipeline(settings, digests_later=True, recheck_stories=True) as pipeline:
        report = pipeline.ingest(specs, match_alerts=True)
        alerts = AlertReport.of(pipeline.matched_alerts())  # logs each delivery given up
    full = report.to_json()
    for failure in full.get("failures") or []:
        log.warning("feed failed: %s (%s): %s", failure.get("url"), failure.get("status"),
                    failure.get("reason"))
    for problem in full.get("problems") or []:
        log.warning("problem: %s", problem)
    # Counts only (a delivery error may name a webhook URL with its token: see the log).
    return compact_report(full, shard_feeds=len(feed_urls), alerts={
        "matched": alerts.matched, "created": alerts.created, "sent": alerts.sent,
        "failed": alerts.failed, "deferred": alerts.deferred})


def process_alerts(*, settings: Settings | None = None) -> dict[str, Any]:
    """After the shards: match the articles still in the alert queue (those a shard could not match)
    against every rule, check the volume rules, then deliver what is due (the shards' e-mail
    digests, retries)."""
    from newsflow.app.cycle import Pipeline

    with Pipeline(settings or _settings(), recheck_stories=True) as pipeline:
        report = pipeline.alerts()
    for failure in report.failures:
        log.warning("delivery given up: %s", failure)
    if report.skipped_reason:
        log.warning("alerts skipped: %s", report.skipped_reason)
    # Counts only in XCom: a delivery error may name a webhook URL with its token (see the log).
    return {"matched": report.matched, "created": report.created, "sent": report.sent,
            "failed": report.failed, "deferred": report.deferred, "skipped": bool(report.skipped_reason)}


# --- news_push -----------------------------------------------------------------------------------

def process_push_spool(feeds_file: str | None, *, settings: Settings | None = None) -> dict[str, Any]:
    """Run the cycle on the pushes received so far (newsflow.app.push.process_pushes); the counts."""
    from newsflow.app.cycle import load_feed_specs
    from newsflow.app.push import process_pushes

    settings = settings or _settings()
    run = process_pushes(settings, load_feed_specs(feeds_path(feeds_file, settings)))
    for problem in run.problems:
        log.warning("problem: %s", problem)
    result: dict[str, Any] = {}
    if run.report is not None:  # the cycle's counts, as a shard reports them
        full = run.report.to_json()
        for problem in full.get("problems") or []:
            log.warning("problem: %s", problem)
        result = compact_report(full, alerts_sent=(full.get("alerts") or {}).get("sent", 0))
    result.update(pushes=run.pushes, pushed_feeds=run.feeds, dropped=run.dropped,
                  problems=result.get("problems", 0) + len(run.problems))
    return result


# --- news_digests --------------------------------------------------------------------------------

def deliver_digests(*, settings: Settings | None = None) -> dict[str, Any]:
    """Send the digests of every digest rule whose period has ended (each once per period)."""
    from newsflow.alerts.digests import deliver_digests as deliver
    from newsflow.core.es import make_client

    settings = settings or _settings()
    client = make_client(settings)
    try:
        run = deliver(client, settings)
    finally:
        client.close()
    for outcome in run.outcomes:
        for error in outcome.errors:
            log.warning("digest %s of rule %s: %s", outcome.id, outcome.rule, error)
    # Counts only in XCom (an error may name a webhook URL with its token: see the log).
    summary = run.to_json()
    return {"digests": len(run.outcomes), "sent": summary["sent"], "failed": summary["failed"],
            "busy": run.busy, "already_delivered": run.finished_before,
            "stories": sum(o.stories for o in run.outcomes if o.sent)}


# --- news_maintenance ----------------------------------------------------------------------------

def feed_health_report(feeds_file: str | None = None, *, settings: Settings | None = None,
                       max_listed: int = 50) -> dict[str, Any]:
    """Counts of feeds by health, and the failing or gone ones (at most `max_listed`)."""
    settings = settings or _settings()
    rows = load_feed_health(settings, feeds_file)
    troubled = [row.to_json() for row in rows if row.health in TROUBLED]  # redacted
    return {"feeds": len(rows), "by_health": count_by_health(rows),
            "articles": sum(row.articles_total for row in rows), "troubled": troubled[:max_listed]}


def check_lifecycle(*, settings: Settings | None = None, raise_on_problems: bool = False) -> dict[str, Any]:
    """ILM state and rollover position of every index behind `<prefix>-articles`.

    A problem is an index whose ILM step is ERROR, an index not managed by ILM, or a missing alias
    or write index. With `raise_on_problems`, they fail the caller (the maintenance task goes red).
    """
    from newsflow.core.es import make_client
    from newsflow.index.lifecycle import inspect_lifecycle

    settings = settings or _settings()
    client = make_client(settings)
    try:
        report = inspect_lifecycle(client, settings)
    finally:
        client.close()
    if raise_on_problems and report["problems"]:
        raise IndexError_(
            f"{settings.index_name('articles')}: " + "; ".join(report["problems"])
            + " (see GET _ilm/explain; after fixing the cause, POST <index>/_ilm/retry)"
        )
    return report


def reenrich(query: str = "*", *, settings: Settings | None = None) -> dict[str, Any]:
    """Run enrichment again over the stored articles matching `query` (after a model or vocabulary
    update); the number rewritten."""
    from enrich.reenrich import reenrich as reenrich_articles
    from newsflow.core.es import make_client

    settings = settings or _settings()
    client = make_client(settings)
    try:
        count = reenrich_articles(client, settings, query=query)
    finally:
        client.close()
    return {"query": query, "reenriched": int(count)}


# --- views for the Airflow plugin page -----------------------------------------------------------

def load_feed_health(settings: Settings, feeds_file: str | None = None) -> list[FeedHealth]:
    """Feed health (newsflow.app.feed_health) from Elasticsearch, joined with the feeds file when
    one is given or configured: troubled feeds first."""
    from newsflow.core.es import make_client

    path = feeds_file or settings.feeds_file
    client = make_client(settings)
    try:
        return feed_health.load_feed_health(client, settings, Path(path) if path else None)
    finally:
        client.close()


def load_rules_with_alerts(settings: Settings, per_rule: int = 5, scan: int = 500) -> list[RuleWithAlerts]:
    """Every rule with its most recent alerts (newsflow.alerts.overview)."""
    from newsflow.alerts.overview import rules_with_alerts
    from newsflow.core.es import make_client

    client = make_client(settings)
    try:
        return rules_with_alerts(client, settings, per_rule=per_rule, scan=scan)
    finally:
        client.close()


# --- small pure helpers --------------------------------------------------------------------------

def feeds_path(feeds_file: str | None, settings: Settings) -> Path:
    """The feeds file of a run: the DAG param when given, else the configured one."""
    if feeds_file:
        return Path(feeds_file)
    if settings.feeds_file is not None:
        return settings.feeds_file
    raise ConfigError(
        "no feeds file: trigger news_ingest with the param feeds_file, or set NEWSFLOW_FEEDS_FILE "
        "(or feeds_file in $NEWSFLOW_HOME/config.yaml) for the Airflow workers"
    )


def shard_by_host(urls: Sequence[str], shard_size: int) -> list[list[str]]:
    """Split URLs into shards of at most `shard_size`, keeping URLs of one host next to each other."""
    if shard_size < 1:
        raise ConfigError(f"shard size {shard_size} must be at least 1")
    ordered = sorted(dict.fromkeys(urls), key=lambda url: (urlsplit(url).hostname or "", url))
    return [ordered[i:i + shard_size] for i in range(0, len(ordered), shard_size)]


def select_specs(specs: Sequence[FeedSpec], feed_urls: Sequence[str]) -> list[FeedSpec]:
    """The specs of the given URLs, in the file's order. A URL no longer in the file is skipped."""
    wanted = set(feed_urls)
    selected = [spec for spec in specs if spec.url in wanted]
    missing = wanted - {spec.url for spec in selected}
    if missing:
        log.warning("%d feed(s) of this shard are no longer in the feeds file and are skipped: %s",
                    len(missing), ", ".join(sorted(missing)[:5]))
    return selected


def compact_report(report: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A cycle report as a shard's XCom: its counts, the URLs of the failed feeds (references: the
    reasons are in the feed state and the task log), capped with the total kept, and the number of
    problems. Pure."""
    compact = {key: report[key] for key in SHARD_COUNTS if key in report}
    failed = [str(f.get("url")) for f in report.get("failures") or []]
    compact["failed_feeds"] = failed[:MAX_FAILURES_IN_RESULT]
    if len(failed) > MAX_FAILURES_IN_RESULT:
        compact["failed_feeds_not_listed"] = len(failed) - MAX_FAILURES_IN_RESULT
    compact["problems"] = len(report.get("problems") or [])
    compact.update(extra)
    return compact


def _settings() -> Settings:
    from newsflow.app.airflow_settings import settings_from_airflow

    return settings_from_airflow()
