"""What the Airflow tasks do, as plain functions (importable and testable without Airflow).

Each function takes small arguments and returns a small JSON-able dict or list, because that is what
passes through XCom: feed URLs and counts, never articles. Settings come from the Airflow connection
`newsflow_elasticsearch` when it exists, else from the environment (newsflow.app.airflow_settings);
tests pass `settings=` explicitly.

Heavy libraries (spaCy, the Elasticsearch client) are imported inside the functions, so a DAG file
that imports this module stays fast to parse.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from newsflow.core.errors import ConfigError, IndexError_, IndexNotFound
from newsflow.core.models import utc_now
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from ingest.types import FeedSpec, FeedState
    from newsflow.alerts.records import AlertRecord
    from newsflow.alerts.rules import Rule

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
    pipeline = Pipeline(settings)
    try:
        due = pipeline.select_due(specs)
    finally:
        pipeline.close()
    shards = shard_by_host([spec.url for spec in due], shard_size)
    log.info("%d of %d feed(s) due, in %d shard(s) of at most %d", len(due), len(specs), len(shards),
             shard_size)
    return shards


def ingest_shard(feeds_file: str | None, feed_urls: Sequence[str], *,
                 settings: Settings | None = None) -> dict[str, Any]:
    """Fetch, normalise, enrich and index the given feeds (as listed in the feeds file); the counts.

    Alert matching is left to `process_alerts`, which runs once after every shard.
    """
    from newsflow.app.cycle import Pipeline, load_feed_specs

    settings = settings or _settings()
    specs = select_specs(load_feed_specs(feeds_path(feeds_file, settings)), feed_urls)
    pipeline = Pipeline(settings)
    try:
        report = pipeline.ingest(specs)
    finally:
        pipeline.close()
    full = report.to_json()
    for failure in full.get("failures") or []:
        log.warning("feed failed: %s (%s): %s", failure.get("url"), failure.get("status"),
                    failure.get("reason"))
    for problem in full.get("problems") or []:
        log.warning("problem: %s", problem)
    return compact_report(full, shard_feeds=len(feed_urls))


def process_alerts(*, settings: Settings | None = None) -> dict[str, Any]:
    """Match the articles still pending against every rule, then deliver what is due."""
    from newsflow.app.cycle import Pipeline

    pipeline = Pipeline(settings or _settings())
    try:
        report = pipeline.alerts()
    finally:
        pipeline.close()
    for failure in report.failures:
        log.warning("delivery given up: %s", failure)
    if report.skipped_reason:
        log.warning("alerts skipped: %s", report.skipped_reason)
    # Counts only in XCom: a delivery error may name a webhook URL with its token (see the log).
    return {"matched": report.matched, "created": report.created, "sent": report.sent,
            "failed": report.failed, "deferred": report.deferred, "skipped": bool(report.skipped_reason)}


# --- news_maintenance ----------------------------------------------------------------------------

def feed_health_report(feeds_file: str | None = None, *, settings: Settings | None = None,
                       max_listed: int = 50) -> dict[str, Any]:
    """Counts of feeds by health, and the failing or gone ones (at most `max_listed`)."""
    settings = settings or _settings()
    rows = load_feed_health(settings, feeds_file)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.health] = counts.get(row.health, 0) + 1
    troubled = [row.to_json() for row in rows if row.health in ("failing", "gone")]
    return {"feeds": len(rows), "by_health": counts,
            "articles": sum(row.articles_total for row in rows), "troubled": troubled[:max_listed]}


def check_lifecycle(*, settings: Settings | None = None, raise_on_problems: bool = False) -> dict[str, Any]:
    """ILM state and rollover position of every index behind `<prefix>-articles`.

    A problem is an index whose ILM step is ERROR, an index not managed by ILM, or a missing alias
    or write index. With `raise_on_problems`, they fail the caller (the maintenance task goes red).
    """
    from newsflow.core.es import make_client

    settings = settings or _settings()
    client = make_client(settings)
    try:
        report = _lifecycle(client, settings)
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

@dataclasses.dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed as the operator sees it."""

    name: str
    url: str
    health: str  # ok, failing, gone, not_polled
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_status: str
    last_error: str
    consecutive_failures: int
    articles_total: int
    next_due_at: datetime | None  # None = due now (or never, when gone)

    def to_json(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        for key, value in values.items():
            if isinstance(value, datetime):
                values[key] = value.isoformat()
        return values


def feed_health(specs: Sequence[FeedSpec], states: Iterable[FeedState]) -> list[FeedHealth]:
    """Join the feeds file (may be empty) with the stored states: every listed feed, and every feed
    with a state; failing feeds first, then by name. Pure."""
    by_key = {state.key: state for state in states}
    rows: list[FeedHealth] = []
    for spec in specs:
        rows.append(_health_row(spec.url, spec.name, by_key.pop(spec.key, None)))
    for state in by_key.values():  # polled before, no longer (or not) in this feeds file
        rows.append(_health_row(state.url, "", state))
    order = {"failing": 0, "gone": 1, "not_polled": 2, "ok": 3}
    return sorted(rows, key=lambda row: (order.get(row.health, 9), row.name.lower(), row.url))


def _health_row(url: str, name: str, state: FeedState | None) -> FeedHealth:
    if state is None:
        return FeedHealth(name=name or url, url=url, health="not_polled", last_fetched_at=None,
                          last_success_at=None, last_status="", last_error="", consecutive_failures=0,
                          articles_total=0, next_due_at=None)
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
    )


def load_feed_health(settings: Settings, feeds_file: str | None = None) -> list[FeedHealth]:
    """Feed health from Elasticsearch, joined with the feeds file when one is configured."""
    from ingest.state import FeedStateStore
    from newsflow.core.es import make_client

    specs: list[FeedSpec] = []
    path = feeds_file or settings.feeds_file
    if path:
        from newsflow.app.cycle import load_feed_specs

        specs = load_feed_specs(Path(path))
    client = make_client(settings)
    try:
        states = _ignore_missing_index(lambda: FeedStateStore(client, settings).load_all(), [])
    finally:
        client.close()
    return feed_health(specs, states)


@dataclasses.dataclass(frozen=True, slots=True)
class RuleWithAlerts:
    rule: Rule
    recent: tuple[AlertRecord, ...]  # newest first


def load_rules_with_alerts(settings: Settings, per_rule: int = 5, scan: int = 500) -> list[RuleWithAlerts]:
    """Every rule with its most recent alerts (at most `per_rule`, found among the `scan` newest)."""
    from newsflow.alerts.records import AlertRecord
    from newsflow.alerts.rules import RuleStore
    from newsflow.core.es import make_client, translate_errors

    client = make_client(settings)
    try:
        rules = _ignore_missing_index(lambda: RuleStore(client, settings).list(), [])
        with translate_errors(settings.es_url_redacted):
            response = client.options(ignore_status=404).search(
                index=settings.index_name("alerts"), size=scan, sort=[{"matched_at": "desc"}])
    finally:
        client.close()
    hits = ((response.get("hits") or {}).get("hits") or []) if response else []
    records = [AlertRecord.from_source(hit["_source"]) for hit in hits]
    return group_alerts(rules, records, per_rule)


def group_alerts(rules: Sequence[Rule], records: Sequence[AlertRecord],
                 per_rule: int) -> list[RuleWithAlerts]:
    """Attach each rule's newest alerts (records come newest first). Pure."""
    grouped: dict[str, list[AlertRecord]] = {rule.name: [] for rule in rules}
    for record in records:
        bucket = grouped.get(record.rule)
        if bucket is not None and len(bucket) < per_rule:
            bucket.append(record)
    return [RuleWithAlerts(rule, tuple(grouped[rule.name])) for rule in rules]


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


def _ignore_missing_index(load: Any, default: Any) -> Any:
    """Run a loader; an index that does not exist yet (nothing polled or saved) means no data."""
    try:
        return load()
    except IndexNotFound:
        return default


def _lifecycle(client: Elasticsearch, settings: Settings) -> dict[str, Any]:
    from newsflow.core.es import translate_errors

    alias = settings.index_name("articles")
    problems: list[str] = []
    with translate_errors(settings.es_url_redacted):
        aliases = client.options(ignore_status=404).indices.get_alias(name=alias)
        if aliases.meta.status == 404 or not aliases.body:
            return {"alias": alias, "write_index": None, "indices": [],
                    "problems": [f"alias {alias} does not exist (run `newsflow setup`)"],
                    "checked_at": utc_now().isoformat()}
        explain = client.ilm.explain_lifecycle(index=alias)
        stats = client.indices.stats(index=alias, metric="docs,store")
    write_index = next(
        (name for name, body in aliases.body.items()
         if (body.get("aliases", {}).get(alias) or {}).get("is_write_index")),
        None if len(aliases.body) > 1 else next(iter(aliases.body)),
    )
    if write_index is None:
        problems.append(f"alias {alias} has no write index")
    indices = []
    for name, info in sorted((explain.get("indices") or {}).items()):
        index_stats = (stats.get("indices") or {}).get(name, {}).get("primaries", {})
        row = {
            "index": name,
            "write_index": name == write_index,
            "managed": bool(info.get("managed")),
            "policy": info.get("policy"),
            "phase": info.get("phase"),
            "action": info.get("action"),
            "step": info.get("step"),
            "age": info.get("age"),
            "docs": int((index_stats.get("docs") or {}).get("count", 0)),
            "primary_bytes": int((index_stats.get("store") or {}).get("size_in_bytes", 0)),
        }
        if not row["managed"]:
            problems.append(f"{name} is not managed by ILM")
        elif info.get("step") == "ERROR":
            reason = (info.get("step_info") or {}).get("reason") or info.get("failed_step") or "unknown"
            row["error"] = reason
            problems.append(f"{name}: ILM step {info.get('failed_step')} failed: {reason}")
        indices.append(row)
    return {"alias": alias, "write_index": write_index, "indices": indices, "problems": problems,
            "rollover": {"max_age": settings.index.rollover_max_age,
                         "max_primary_shard_size": settings.index.rollover_max_primary_shard_size},
            "checked_at": utc_now().isoformat()}
