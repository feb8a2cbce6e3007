"""One ingestion cycle: fetch → normalise → dedupe → enrich → cluster → index → alert.

The CLI (`newsflow run`) and the Airflow DAG call the same functions here. Each stage lives in its
own package (ingest, enrich, index, alerts); this module only sequences them and decides what happens
when Elasticsearch is unreachable:

- Feed state (validators, next poll time) is saved only after the feed's articles are indexed,
  dead-lettered or spooled, so a cycle killed at any point is redone by the next one and never skips
  an article. A feed whose articles could be neither indexed nor spooled (spool full, disk error)
  keeps its old state: the next cycle fetches it again.
- When Elasticsearch cannot be reached, or still refuses articles with 429/5xx after every retry,
  those articles go to the on-disk spool (once per id and content hash); the next cycle indexes them
  first, even if the feeds no longer carry those items. Spool entries are discarded only for ids
  that were indexed or dead-lettered.
- Feed states are also cached on local disk (newsflow/app/state_cache.py), so during an outage `--due`
  honours every feed's schedule and conditional GETs still work; the cache is written back to
  Elasticsearch (newest wins) once it is reachable.
- Articles are queued for alert matching (`<prefix>-alert-queue`) before they are indexed and leave
  the queue only after the rules were matched against them, so a cycle killed between indexing and
  matching loses no alert.
- Alert records are created once per (rule, story) and delivered until a channel accepts them, so
  re-running a cycle never sends an alert twice (a delivery repeated after a crash keeps its id).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import elastic_transport

from newsflow.core.errors import AlertError, AlertsBusy, ElasticsearchUnavailable, IndexError_, SpoolFullError
from newsflow.core.models import Article, utc_now
from newsflow.core.redact import install_log_redaction, redact_text, redact_url
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from enrich.pipeline import Enricher
    from ingest.types import FeedResult, FeedSpec, FeedState
    from newsflow.alerts.delivery import DeliveryResult
    from newsflow.alerts.engine import MatchResult
    from newsflow.index.spool import Spool
    from newsflow.index.store import ArticleStore, BulkResult

log = logging.getLogger(__name__)
install_log_redaction()  # httpx logs every request with its URL (feeds, webhooks)

# Fault injection for the crash-safety tests: when NEWSFLOW_FAULT_POINT names one of the points below,
# the process kills itself with SIGKILL there (a real crash, as the OOM killer or a node loss would).
FAULT_POINTS = ("after_fetch", "after_enrich", "after_index", "after_feed_state", "after_match")


def fault_point(name: str) -> None:
    if os.environ.get("NEWSFLOW_FAULT_POINT") == name:
        log.warning("fault injection: SIGKILL at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)

class CycleObserver(Protocol):
    """Hooks a caller may implement to show progress (the CLI draws progress bars with them)."""

    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, name: str, amount: int = 1) -> None: ...

class _Silent:
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

class Pipeline:
    """The stages with their loaded resources (Elasticsearch client, spaCy model), reused across
    calls in one process. Build one per process; it is not thread-safe."""

    def __init__(self, settings: Settings, *, enricher: Enricher | None = None,
                 client: Elasticsearch | None = None) -> None:
        from newsflow.core.es import make_client

        self.settings = settings
        self.client = client if client is not None else make_client(settings)
        self._enricher = enricher
        self._ready = False
        # Alerts matched during ingest (match_alerts=True): counts, and the new records still to be
        # delivered by alerts() (those of a cycle whose email digests must wait for its end); what
        # was delivered during ingest.
        self._matched: list[MatchResult] = []
        self._delivered: list[DeliveryResult] = []
        self._down_receivers: dict[str, str] = {}  # found down by a delivery during this run

    @property
    def enricher(self) -> Enricher:
        if self._enricher is None:
            from enrich.pipeline import Enricher

            self._enricher = Enricher(self.settings)
        return self._enricher

    # --- set-up ---
    def ensure_ready(self) -> None:
        """Create or upgrade every index, template and policy (idempotent; once per process)."""
        if not self._ready:
            ensure_all(self.client, self.settings)
            self._ready = True

    # --- feeds ---
    def load_states(self, specs: Sequence[FeedSpec]) -> dict[str, FeedState]:
        """Feed states from Elasticsearch, or from the local cache where that copy is newer (a cycle
        that ran during an outage); those are written back to Elasticsearch. Raises
        ElasticsearchUnavailable when it cannot be reached (then use `cached_states`)."""
        from ingest.state import FeedStateStore
        from newsflow.app.state_cache import FeedStateCache, reconcile

        keys = [spec.key for spec in specs]
        stored = FeedStateStore(self.client, self.settings).load(keys)
        merged, behind = reconcile(stored, FeedStateCache(self.settings).load(keys))
        if behind:
            try:
                FeedStateStore(self.client, self.settings).save(behind)
                log.info("%d feed state(s) from the local cache written back to Elasticsearch", len(behind))
            except IndexError_ as exc:  # the cache keeps them; the next cycle tries again
                log.warning("could not write cached feed states back to Elasticsearch: %s", exc)
        return merged

    def cached_states(self, specs: Sequence[FeedSpec]) -> dict[str, FeedState]:
        """The local cache's feed states (what `load_states` falls back to during an outage)."""
        from newsflow.app.state_cache import FeedStateCache

        return FeedStateCache(self.settings).load(spec.key for spec in specs)

    def select_due(self, specs: Sequence[FeedSpec], now: datetime | None = None) -> list[FeedSpec]:
        """The feeds whose next poll time has come (from the local cache if Elasticsearch is down)."""
        from ingest.schedule import select_due

        try:
            self.ensure_ready()
            states = self.load_states(specs)
        except ElasticsearchUnavailable as exc:
            log.warning("%s; scheduling feeds from the local feed-state cache", exc)
            states = self.cached_states(specs)
        return select_due(specs, states, now or utc_now())

    # --- the cycle ---
    def ingest(self, specs: Sequence[FeedSpec], observer: CycleObserver | None = None, *,
               match_alerts: bool = False) -> CycleReport:
        """Poll the given feeds and index what is new or changed (plus anything spooled earlier).

        With `match_alerts`, each group of indexed articles is also matched against the rules while
        later groups are still being enriched; the new alerts wait in this Pipeline for `alerts()` to
        deliver them. Without it, the articles wait in the alert queue for `alerts()`.
        """
        from ingest.dedupe import classify, lookup_ids, unique_per_publisher
        from ingest.poll import poll_feeds
        from newsflow.index.spool import Spool
        from newsflow.index.store import BulkResult

        watch = observer or _Silent()
        clock = _StageClock()
        problems: list[str] = []
        es_up = True
        states: dict[str, FeedState] = {}
        try:
            self.ensure_ready()
            states = self.load_states(specs)
        except ElasticsearchUnavailable as exc:
            es_up = False
            problems.append(str(exc))
            log.warning("%s; this cycle's articles will be spooled, feeds polled by their cached state", exc)
            states = self.cached_states(specs)

        fetch_started = utc_now()
        with clock("fetch"):
            watch.stage("fetch", len(specs))
            results = poll_feeds(specs, states, self.settings,
                                 on_result=lambda _result: watch.advance("fetch"))
        fault_point("after_fetch")
        report = _feed_counts(results)
        fresh = [article for result in results for article in result.articles]
        spool = Spool(self.settings.spool_dir, self.settings.index.spool_max_bytes)
        spooled_before = spool.load()
        if spooled_before:
            log.info("%d article(s) from earlier cycles are waiting in the spool", len(spooled_before))
        # Spooled copies first, so a fresh copy of the same article replaces the older one.
        batch = unique_per_publisher([*spooled_before, *fresh])

        classified = None
        written = BulkResult()
        try:
            if not es_up:
                raise _FoundDown
            with clock("dedupe"):
                from newsflow.index.store import ArticleStore

                store = ArticleStore(self.client, self.settings)
                # A run killed just after indexing leaves writes that searches (this lookup is one)
                # see only after a refresh; without it they would be enriched and indexed again.
                if batch:
                    store.refresh()
                stored = store.stored_articles(lookup_ids(batch))
                classified = classify(batch, stored)  # other publishers' copies get ids of their own
        except _FoundDown:
            pass  # reported above; every article of the batch is spooled below
        except ElasticsearchUnavailable as exc:
            es_up = False
            problems.append(str(exc))
            log.warning("%s; this cycle's articles will be spooled", exc)
        if classified is not None:
            changed = [*classified.new, *classified.updated]
            watch.stage("enrich", len(changed))
            watch.stage("index", len(changed))
            written, outage = self._enrich_and_index(changed, store, clock, watch, match_alerts,
                                                     ingested_before=fetch_started, problems=problems)
            if outage:
                es_up = False
                problems.append(outage)
                log.warning("%s; the articles not yet indexed will be spooled", outage)
            unwritten = set(written.deferred)
            # Classified articles: another publisher's copy carries its own id by now.
            waiting = [a for a in changed if a.id in unwritten]
        else:
            unwritten = {a.id for a in batch}
            waiting = list(batch)

        kept = _keep(spool, waiting, spooled_before, problems)
        lost = {(a.feed_url, a.url) for a in waiting if a.id in kept.lost}
        if written.deferred and not kept.lost and not outage_seen(problems, written.deferred_reason):
            problems.append(
                f"{len(written.deferred)} article(s) spooled for the next cycle: Elasticsearch did not "
                f"take them after {_retries(self.settings.index.bulk_retries)} ({written.deferred_reason})")
        # Spooled copies that are now in Elasticsearch (indexed, dead-lettered or unchanged) go.
        try:
            spool.discard(a.id for a in spooled_before if a.id not in unwritten)
        except OSError as exc:  # they stay spooled: the next cycle finds them unchanged and retries
            log.error("could not discard indexed articles from the spool: %s", exc)
            problems.append(f"spool not cleaned up (indexed articles stay in it until a later cycle): {exc}")
        with clock("feed_state"):
            indexed_new = {a.id for a in classified.new} - unwritten if classified is not None else set()
            saved = [r for r in results if not any((a.feed_url, a.url) in lost for a in r.articles)]
            self._save_states(saved, indexed_new, es_up=es_up, problems=problems)
        fault_point("after_feed_state")

        quarantined = tuple(moved.name for moved in spool.quarantined)
        problems.extend(moved.describe() for moved in spool.quarantined)
        spooled_ids = {a.id for a in spooled_before}
        if classified is not None:
            report = replace(
                report, new=len(classified.new), updated=len(classified.updated),
                unchanged=len(classified.unchanged),
                from_spool=sum(1 for a in changed if a.id in spooled_ids and a.id not in unwritten))
        return replace(
            report,
            indexed=written.indexed,
            dead_lettered=written.dead_lettered,
            spooled=len(spool),
            spool_added=kept.stored,
            not_kept=len(kept.lost),
            quarantined=quarantined,
            problems=tuple(dict.fromkeys(problems)),
            seconds=clock.total(),
            stage_seconds=clock.stages,
        )

    def _enrich_and_index(
        self, changed: Sequence[Article], store: ArticleStore, clock: _StageClock, watch: CycleObserver,
        match_alerts: bool, *, ingested_before: datetime, problems: list[str],
    ) -> tuple[BulkResult, str]:
        """Enrich, cluster, index (and match) the changed articles, group by group; with the reason
        Elasticsearch became unreachable, if it did (the articles not written by then are deferred).

        The NER processes go on with later groups while this process clusters, indexes and matches
        the group just enriched: the stages overlap instead of running one after the other. The
        stage clock's "enrich" is the wall time of the whole, the other stages' times within it are
        this process's share.
        """
        from newsflow.index.documents import index_documents
        from newsflow.index.store import BulkResult

        if not changed:
            return BulkResult(), ""  # and the model (and spaCy) stay unloaded
        from enrich.stories import ElasticsearchCandidates, StoryAssigner

        written = BulkResult()
        earlier = ElasticsearchCandidates(self.client, self.settings, ingested_before=ingested_before)
        stories = StoryAssigner(earlier, self.settings)
        groups = self.enricher.stream(
            changed, group_size=self.settings.enrich.group_size,
            on_progress=_increments(lambda n: watch.advance("enrich", n)),
        )
        # closing(): if indexing fails (Elasticsearch gone: the caller spools), the NER workers are
        # stopped at once rather than whenever the generator is collected.
        done: set[str] = set()
        with clock("enrich"), closing(groups):
            try:
                for group in groups:
                    fault_point("after_enrich")
                    with clock("stories"):
                        assigned = stories.assign(group)
                    with clock("index"):
                        documents = index_documents(assigned, self.settings.index)  # written and matched
                        result = store.write_prepared(documents, alert_pending=True)
                    written += result
                    done.update(a.id for a in assigned)
                    watch.advance("index", len(assigned))
                    fault_point("after_index")
                    if match_alerts:
                        deferred = set(result.deferred)
                        self._match_group([a for a in assigned if a.id not in deferred], store, clock,
                                          problems, documents)
            except ElasticsearchUnavailable as exc:
                # Not written (or not known to be): spooled by the caller. Rewriting by id is
                # idempotent, so one that did reach Elasticsearch is found unchanged next cycle.
                rest = tuple(a.id for a in changed if a.id not in done)
                return written + BulkResult(deferred=rest, deferred_reason=str(exc)), str(exc)
        return written, ""

    def _match_group(self, articles: Sequence[Article], store: ArticleStore, clock: _StageClock,
                     problems: list[str], documents: Mapping[str, Mapping[str, Any]]) -> None:
        """Match one indexed group against the rules (see `_match`); the group leaves the alert
        queue once matched, or stays in it for `alerts()` if another run holds the recording lock
        or Elasticsearch refused the alert writes (alerts are recorded once per story regardless)."""
        if not articles:
            return
        try:
            matched, delivered = self._match(articles, utc_now(), self._down_receivers, clock, documents)
            with clock("match"):
                store.clear_alert_pending([a.id for a in articles])
        except AlertsBusy as exc:
            log.warning("%s", exc)  # the group stays in the alert queue: alerts() tries again
            return
        except (IndexError_, AlertError) as exc:
            log.warning("alert matching of %d article(s) left for later: %s", len(articles), exc)
            problems.append(f"alert matching left for a later run: {exc}")
            return
        fault_point("after_match")
        self._matched.append(matched)
        self._delivered.append(delivered)

    def _match(self, articles: Sequence[Article], now: datetime, down: dict[str, str],
               clock: _StageClock, documents: Mapping[str, Mapping[str, Any]] | None = None,
               ) -> tuple[MatchResult, DeliveryResult]:
        """Match articles against the rules and deliver the new alerts at once, each recorded with its
        outcome (one write per alert). With e-mail digests the new alerts are instead created held
        for this run (`MatchResult.claimed`), so that `alerts()` sends one digest per rule per cycle."""
        from newsflow.alerts.delivery import DeliveryResult, deliver_then_record
        from newsflow.alerts.engine import find_alerts, match_articles, recorded_result

        if self.settings.alerts.email_digest:
            lease = timedelta(seconds=self.settings.alerts.delivery_lease)
            with clock("match"):
                return (match_articles(self.client, self.settings, articles, now=now,
                                       claim_until=now + lease, documents=documents), DeliveryResult())
        with clock("match"):
            found = find_alerts(self.client, self.settings, articles, now, documents=documents)
        with clock("deliver"):
            recorded = deliver_then_record(self.client, self.settings, found.records, now=now, down=down)
        return recorded_result(found, recorded), recorded.delivery

    def _save_states(self, results: Sequence[FeedResult], new_ids: set[str], *, es_up: bool,
                     problems: list[str]) -> None:
        """Store the feeds' new states: always in the local cache, and in Elasticsearch when it is
        reachable (when it refuses them, the cache keeps them and a later cycle writes them back)."""
        from ingest.state import FeedStateStore
        from newsflow.app.state_cache import FeedStateCache

        states = []
        for result in results:
            added = sum(1 for a in result.articles if a.id in new_ids)
            states.append(replace(result.state, articles_total=result.state.articles_total + added))
        try:
            FeedStateCache(self.settings).save(states)
        except OSError as exc:
            log.error("could not write the local feed-state cache: %s", exc)
            problems.append(f"local feed-state cache not written: {exc}")
        if not es_up:
            return
        try:
            FeedStateStore(self.client, self.settings).save(states)
        except IndexError_ as exc:
            log.warning("feed states kept in the local cache only: %s", exc)
            problems.append(f"feed states not saved in Elasticsearch, kept in the local cache "
                            f"and written back next cycle: {exc}")

    def alerts(self, observer: CycleObserver | None = None) -> AlertReport:
        """Match every article still in the alert queue against the rules, then deliver the new
        alerts (these and those matched during ingest) and any older ones due again."""
        from newsflow.alerts.delivery import DeliveryResult, deliver_claimed, deliver_pending
        from newsflow.alerts.engine import MatchResult
        from newsflow.index.store import ArticleStore

        watch = observer or _Silent()
        busy = ""
        inline, self._matched = self._matched, []
        delivered_inline, self._delivered = self._delivered, []
        down, self._down_receivers = self._down_receivers, {}  # the next run tries every receiver
        try:
            self.ensure_ready()
            store = ArticleStore(self.client, self.settings)
            store.refresh()
            pending = store.alert_pending()
            watch.stage("alerts", len(pending))
            now = utc_now()
            # New alerts are delivered at once (with e-mail digests: created held for this run and
            # sent together below); older ones still due (retries, a crashed run's) are found and
            # claimed.
            try:
                matched, delivered_now = self._match(pending, now, down, _StageClock())
            except AlertsBusy as exc:
                log.warning("%s", exc)
                busy, matched, delivered_now = str(exc), MatchResult(), DeliveryResult()
            else:
                store.clear_alert_pending([a.id for a in pending])
                if pending:
                    fault_point("after_match")
            claimed = [record for result in (*inline, matched) for record in result.claimed]
            fresh = deliver_claimed(self.client, self.settings, claimed, now=now, down=down)
            older = deliver_pending(self.client, self.settings, now=now)
            parts = [*delivered_inline, delivered_now, fresh, older]
            delivered = DeliveryResult(
                sent=sum(p.sent for p in parts), failed=sum(p.failed for p in parts),
                deferred=sum(p.deferred for p in parts),
                failures=tuple(f for p in parts for f in p.failures),
            )
        except (IndexError_, AlertError, elastic_transport.TransportError) as exc:
            # Unreachable, or refusing writes under load: every article waits in the alert queue
            # and every alert record stays pending, so a later run matches and delivers them.
            log.warning("alerts not processed: %s", exc)
            return AlertReport(
                matched=sum(r.matched for r in inline), created=sum(r.created for r in inline),
                sent=sum(d.sent for d in delivered_inline), failed=sum(d.failed for d in delivered_inline),
                deferred=sum(d.deferred for d in delivered_inline), skipped_reason=str(exc),
            )
        failures = tuple(
            f"rule {f.rule!r}, story {f.story_id}, {f.channel}: {f.error} (after {f.attempts} attempts)"
            for f in delivered.failures
        )
        for failure in failures:
            log.warning("alert delivery failed: %s", failure)
        return AlertReport(
            matched=matched.matched + sum(r.matched for r in inline),
            created=matched.created + sum(r.created for r in inline),
            sent=delivered.sent, failed=delivered.failed, deferred=delivered.deferred, failures=failures,
            skipped_reason=busy,
        )

    def run(self, specs: Sequence[FeedSpec], observer: CycleObserver | None = None) -> CycleReport:
        """A full cycle over the given feeds: ingest, then alerts."""
        started = time.perf_counter()
        report = self.ingest(specs, observer, match_alerts=True)
        alert_started = time.perf_counter()
        alerts = self.alerts(observer)
        stages = {**report.stage_seconds, "alerts": time.perf_counter() - alert_started}
        problems = report.problems + ((alerts.skipped_reason,) if alerts.skipped_reason else ())
        return replace(report, alerts=alerts, problems=tuple(dict.fromkeys(problems)),
                       seconds=time.perf_counter() - started, stage_seconds=stages)

    def close(self) -> None:
        self.client.close()

def ensure_all(client: Elasticsearch, settings: Settings) -> None:
    """Create or upgrade everything under the prefix: article templates, ILM policy, alias,
    dead-letter, feed-state, rules and alerts indices. Idempotent."""
    from ingest.state import FeedStateStore
    from newsflow.alerts import ensure_alert_indices
    from newsflow.index.setup import ensure_indices

    ensure_indices(client, settings)
    FeedStateStore(client, settings).ensure()
    ensure_alert_indices(client, settings)

def load_feed_specs(feeds_file: Path) -> list[FeedSpec]:
    from ingest.feeds import load_feeds

    return load_feeds(feeds_file)

def run_cycle(settings: Settings, feeds_file: Path, *, due_only: bool = False,
              observer: CycleObserver | None = None) -> CycleReport:
    """Load the feeds file and run one full cycle (every feed, or only the due ones)."""
    specs = load_feed_specs(feeds_file)
    pipeline = Pipeline(settings)
    try:
        selected = pipeline.select_due(specs) if due_only else specs
        report = pipeline.run(selected, observer)
        return replace(report, feeds_total=len(specs)) if due_only else report
    finally:
        pipeline.close()

def _retries(count: int) -> str:
    return f"{count} {'retry' if count == 1 else 'retries'}"


def outage_seen(problems: Sequence[str], reason: str) -> bool:
    """Whether the deferral's reason (Elasticsearch unreachable) is reported already."""
    return reason in problems


class _FoundDown(Exception):
    """Elasticsearch was found unreachable at the start of the cycle: skip the lookups."""


@dataclass(frozen=True, slots=True)
class _Kept:
    stored: int = 0  # articles put in the spool
    lost: frozenset[str] = frozenset()  # ids neither indexed nor spooled


def _keep(spool: Spool, unwritten: Sequence[Article], spooled_before: Sequence[Article],
          problems: list[str]) -> _Kept:
    """Put the articles Elasticsearch did not take in the spool, unless the spool holds them already
    with the same content. A full spool or a disk error is reported, not raised; nothing is lost
    while the feeds still carry the items: their feeds keep their old state, so the next cycle
    fetches them again."""
    already = {(a.id, a.content_hash) for a in spooled_before}
    new = [a for a in unwritten if (a.id, a.content_hash) not in already]
    try:
        spool.put(new)
    except (SpoolFullError, OSError) as exc:
        log.error("%s", exc)
        problems.append(f"{exc}; {len(new)} article(s) neither indexed nor spooled: their feeds keep "
                        "their old state and are fetched again next cycle")
        return _Kept(lost=frozenset(a.id for a in new))
    return _Kept(stored=len(new))


def _feed_counts(results: Sequence[FeedResult]) -> CycleReport:
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

def _increments(advance: Callable[[int], None]) -> Callable[[int], None]:
    """Adapt a running-total callback (enrich reports articles done so far) to increments."""
    done = 0

    def report(total: int) -> None:
        nonlocal done
        advance(total - done)
        done = total

    return report


class _StageClock:
    """Wall time per stage, for the report and the benchmark."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._started = time.perf_counter()

    def __call__(self, name: str) -> _Timer:
        return _Timer(self, name)

    def total(self) -> float:
        return time.perf_counter() - self._started

class _Timer:
    def __init__(self, clock: _StageClock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.clock.stages[self.name] = (
            self.clock.stages.get(self.name, 0.0) + time.perf_counter() - self.start
        )

ArticleCallback = Callable[[Sequence[Article]], None]
