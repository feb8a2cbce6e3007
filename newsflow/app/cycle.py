"""One ingestion cycle: fetch → normalise → dedupe → enrich → cluster → index → alert.

The CLI (`newsflow run`) and the Airflow DAG call the same functions here. Each stage lives in its
own package (ingest, enrich, index, alerts); this module only sequences them and decides what happens
when Elasticsearch is unreachable. Its stores come in through small Protocols (newsflow.app.stores),
alert matching and delivery through one entry point (newsflow.alerts.processing.AlertRun), and what
it reports is in newsflow.app.report.

- Feed state (validators, next poll time) is saved only after the feed's articles are indexed,
  dead-lettered or spooled, so a cycle killed at any point is redone by the next one and never skips
  an article. A feed that brought no articles (a 304, a failure) has nothing to wait for: its state
  goes to Elasticsearch while the poll is still running (in bulks of 500, from one thread), so at
  10,000 feeds those writes overlap the fetching instead of following it. A feed whose articles
  could be neither indexed nor spooled (spool full, disk error) keeps its old state: the next cycle
  fetches it again.
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
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import elastic_transport

from ingest.dedupe import classify, lookup_ids, unique_per_publisher
from ingest.feeds import load_feeds
from ingest.schedule import select_due
from newsflow.alerts.processing import AlertRun, AlertTotals
from newsflow.app.faults import fault_point
from newsflow.app.indices import ensure_present
from newsflow.app.report import (
    AlertReport,
    CycleObserver,
    CycleReport,
    SilentObserver,
    StageClock,
    feed_counts,
    increments,
)
from newsflow.app.state_cache import reconcile
from newsflow.app.stores import ArticleSpool, ArticleStorage, FeedStates, Stores, default_stores
from newsflow.core.errors import AlertError, AlertsBusy, ElasticsearchUnavailable, IndexError_, SpoolFullError
from newsflow.core.es import make_client
from newsflow.core.models import Article, utc_now
from newsflow.core.redact import install_log_redaction
from newsflow.core.settings import Settings
from newsflow.index.store import BulkResult

if TYPE_CHECKING:
    from types import TracebackType

    from elasticsearch import Elasticsearch

    from enrich.pipeline import Enricher
    from ingest.types import FeedResult, FeedSpec, FeedState, HubLinks

    # What `ingest` calls to get its FeedResults: poll_feeds(specs, states, settings, on_result=...)
    # by default; newsflow.app.push passes one that reads pushed bodies instead.
    PollFunction = Callable[..., list[FeedResult]]

log = logging.getLogger(__name__)
install_log_redaction()  # httpx logs every request with its URL (feeds, webhooks)


class Pipeline:
    """The stages with their loaded resources (Elasticsearch client, spaCy model), reused across
    cycles in one process. Use it as a context manager (`with Pipeline(settings) as pipeline:`):
    leaving it closes the Elasticsearch client it made. Not thread-safe.

    `stores` (default: newsflow.app.stores.default_stores) and `enricher` replace the real ones;
    a `client` passed in is the caller's to close. `digests_later`: e-mail digests of the alerts
    matched during `ingest` are left pending for another process's `alerts()` (the news_ingest
    DAG's shards: see newsflow.alerts.processing.AlertRun). `recheck_stories`: stories founded
    here are checked again against other processes' copies before their alerts are recorded
    (processes that run beside others: the shards, and the `alerts` task after them)."""

    def __init__(self, settings: Settings, *, stores: Stores | None = None,
                 enricher: Enricher | None = None, client: Elasticsearch | None = None,
                 digests_later: bool = False, recheck_stories: bool = False) -> None:
        self.settings = settings
        self._owns_client = client is None
        self.client = client if client is not None else make_client(settings)
        self.stores = stores if stores is not None else default_stores(self.client, settings)
        self._enricher = enricher
        self._digests_later = digests_later
        self._recheck_stories = recheck_stories
        self._alerts = self._new_alert_run()  # this run's alerts, delivered by alerts()
        self.hub_links: dict[str, HubLinks] = {}  # WebSub hubs the polled feeds announced, by feed key

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the Elasticsearch client, if this Pipeline made it."""
        if self._owns_client:
            self.client.close()

    @property
    def enricher(self) -> Enricher:
        if self._enricher is None:
            from enrich.pipeline import Enricher  # spaCy: loaded only when something is to enrich

            self._enricher = Enricher(self.settings)
        return self._enricher

    def _new_alert_run(self) -> AlertRun:
        return AlertRun(self.client, self.settings, digests_later=self._digests_later,
                        recheck_stories=self._recheck_stories)

    def matched_alerts(self) -> AlertTotals:
        """What the alert matching during `ingest` (`match_alerts`) did so far: its matches, and the
        deliveries made at once (without e-mail digests). `alerts()` starts afresh after it."""
        return self._alerts.totals()

    def _ensure_indices(self) -> None:
        """Create what is missing under the prefix (once per process: newsflow.app.indices)."""
        ensure_present(self.client, self.settings)

    # --- feeds ---
    def load_states(self, specs: Sequence[FeedSpec]) -> dict[str, FeedState]:
        """Feed states from Elasticsearch, or from the local cache where that copy is newer (a cycle
        that ran during an outage); those are written back to Elasticsearch. Raises
        ElasticsearchUnavailable when it cannot be reached (then use `cached_states`)."""
        keys = [spec.key for spec in specs]
        stored = self.stores.feed_states().load(keys)
        merged, behind = reconcile(stored, self.stores.state_cache().load(keys))
        if behind:
            try:
                self.stores.feed_states().save(behind)
                log.info("%d feed state(s) from the local cache written back to Elasticsearch", len(behind))
            except IndexError_ as exc:  # the cache keeps them; the next cycle tries again
                log.warning("could not write cached feed states back to Elasticsearch: %s", exc)
        return merged

    def cached_states(self, specs: Sequence[FeedSpec]) -> dict[str, FeedState]:
        """The local cache's feed states (what `load_states` falls back to during an outage)."""
        return dict(self.stores.state_cache().load(spec.key for spec in specs))

    def select_due(self, specs: Sequence[FeedSpec], now: datetime | None = None) -> list[FeedSpec]:
        """The feeds whose next poll time has come (from the local cache if Elasticsearch is down);
        a feed with a live WebSub subscription only at its safety poll (`push.safety_poll`)."""
        now = now or utc_now()
        try:
            self._ensure_indices()
            states = self.load_states(specs)
        except ElasticsearchUnavailable as exc:
            log.warning("%s; scheduling feeds from the local feed-state cache", exc)
            states = self.cached_states(specs)
        return select_due(specs, states, now, pushed=self.pushed_feeds(now),
                          safety_poll=self.settings.push.safety_poll)

    def pushed_feeds(self, now: datetime) -> frozenset[str]:
        """The keys of the feeds with a live WebSub subscription in `<prefix>-push`. When they cannot
        be read, none: every feed keeps its normal schedule (polled more often, never less)."""
        from ingest.push import PushStore
        from ingest.websub import pushed_keys

        try:
            return pushed_keys(PushStore(self.client, self.settings).load_all(), now)
        except IndexError_ as exc:
            log.warning("WebSub subscriptions not read (%s); pushed feeds keep their normal schedule", exc)
            return frozenset()

    # --- the cycle ---
    def ingest(self, specs: Sequence[FeedSpec], observer: CycleObserver | None = None, *,
               match_alerts: bool = False, poll: PollFunction | None = None) -> CycleReport:
        """Poll the given feeds and index what is new or changed (plus anything spooled earlier).

        With `match_alerts`, each group of indexed articles is also matched against the rules while
        later groups are still being enriched; the new alerts wait in this Pipeline for `alerts()` to
        deliver them. Without it, the articles wait in the alert queue for `alerts()`.
        """
        watch = observer or SilentObserver()
        clock = StageClock()
        problems: list[str] = []
        es_up = True
        states: dict[str, FeedState] = {}
        try:
            self._ensure_indices()
            states = self.load_states(specs)
        except ElasticsearchUnavailable as exc:
            es_up = False
            problems.append(str(exc))
            log.warning("%s; this cycle's articles will be spooled, feeds polled by their cached state", exc)
            states = self.cached_states(specs)

        from ingest.poll import poll_feeds  # httpx, trio: imported by the cycles that fetch

        fetch_started = utc_now()
        early = _EarlyStates(self.stores.feed_states()) if es_up else None

        def on_result(result: FeedResult) -> None:
            watch.advance("fetch")
            if early is not None:
                early.offer(result)

        with clock("fetch"):
            watch.stage("fetch", len(specs))
            try:
                results = (poll or poll_feeds)(specs, states, self.settings, on_result=on_result)
            finally:
                in_es = early.finish() if early is not None else frozenset()
        self.hub_links.update((r.spec.key, r.hub_links) for r in results if r.hub_links is not None)
        fault_point("after_fetch")
        report = feed_counts(results)
        fresh = [article for result in results for article in result.articles]
        spool = self.stores.spool()
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
                store = self.stores.articles()
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
            self._save_states(saved, indexed_new, es_up=es_up, problems=problems, in_es=in_es)
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
        self, changed: Sequence[Article], store: ArticleStorage, clock: StageClock, watch: CycleObserver,
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

        if not changed:
            return BulkResult(), ""  # and the model (and spaCy) stay unloaded
        from enrich.stories import StoryAssigner  # numpy: imported when there is something to cluster

        written = BulkResult()
        stories = StoryAssigner(self.stores.candidates(ingested_before), self.settings,
                                merged=self._alerts.merged_stories)
        groups = self.enricher.stream(
            changed, group_size=self.settings.enrich.group_size,
            on_progress=increments(lambda n: watch.advance("enrich", n)),
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

    def _match_group(self, articles: Sequence[Article], store: ArticleStorage, clock: StageClock,
                     problems: list[str], documents: Mapping[str, Mapping[str, Any]]) -> None:
        """Match one indexed group against the rules (this run delivers the new alerts); the group
        leaves the alert queue once matched, or stays in it for `alerts()` if another run holds the
        recording lock or Elasticsearch refused the alert writes (alerts are recorded once per story
        regardless)."""
        if not articles:
            return
        try:
            self._alerts.match(articles, timer=clock, documents=documents)
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

    def _save_states(self, results: Sequence[FeedResult], new_ids: set[str], *, es_up: bool,
                     problems: list[str], in_es: frozenset[str] = frozenset()) -> None:
        """Store the feeds' new states: always in the local cache, and in Elasticsearch when it is
        reachable (when it refuses them, the cache keeps them and a later cycle writes them back),
        except those of `in_es` (feed keys): saved there during the poll already."""
        states = []
        for result in results:
            added = sum(1 for a in result.articles if a.id in new_ids)
            states.append(replace(result.state, articles_total=result.state.articles_total + added))
        try:
            self.stores.state_cache().save(states)
        except OSError as exc:
            log.error("could not write the local feed-state cache: %s", exc)
            problems.append(f"local feed-state cache not written: {exc}")
        if not es_up:
            return
        try:
            self.stores.feed_states().save([state for state in states if state.key not in in_es])
        except IndexError_ as exc:
            log.warning("feed states kept in the local cache only: %s", exc)
            problems.append(f"feed states not saved in Elasticsearch, kept in the local cache "
                            f"and written back next cycle: {exc}")

    def alerts(self, observer: CycleObserver | None = None) -> AlertReport:
        """Match every article still in the alert queue against the rules, then deliver the new
        alerts (these and those matched during ingest) and any older ones due again."""
        watch = observer or SilentObserver()
        busy = ""
        # This run's alerts (those matched during ingest); the next run starts afresh (and tries
        # every receiver again).
        run, self._alerts = self._alerts, self._new_alert_run()
        inline = run.totals()
        try:
            self._ensure_indices()
            store = self.stores.articles()
            store.refresh()
            pending = store.alert_pending()
            watch.stage("alerts", len(pending))
            now = utc_now()
            try:
                run.match(pending, now=now)
            except AlertsBusy as exc:
                log.warning("%s", exc)
                busy = str(exc)
            else:
                store.clear_alert_pending([a.id for a in pending])
                if pending:
                    fault_point("after_match")
            totals = run.deliver(now=now)
        except (IndexError_, AlertError, elastic_transport.TransportError) as exc:
            # Unreachable, or refusing writes under load: every article waits in the alert queue
            # and every alert record stays pending, so a later run matches and delivers them.
            log.warning("alerts not processed: %s", exc)
            return AlertReport(matched=inline.matched, created=inline.created, sent=inline.sent,
                               failed=inline.failed, deferred=inline.deferred, skipped_reason=str(exc))
        return AlertReport.of(totals, skipped_reason=busy)

    def run(self, specs: Sequence[FeedSpec], observer: CycleObserver | None = None, *,
            poll: PollFunction | None = None) -> CycleReport:
        """A full cycle over the given feeds: ingest, then alerts."""
        started = time.perf_counter()
        report = self.ingest(specs, observer, match_alerts=True, poll=poll)
        alert_started = time.perf_counter()
        alerts = self.alerts(observer)
        stages = {**report.stage_seconds, "alerts": time.perf_counter() - alert_started}
        problems = report.problems + ((alerts.skipped_reason,) if alerts.skipped_reason else ())
        return replace(report, alerts=alerts, problems=tuple(dict.fromkeys(problems)),
                       seconds=time.perf_counter() - started, stage_seconds=stages)


def load_feed_specs(feeds_file: Path) -> list[FeedSpec]:
    return load_feeds(feeds_file)


def run_cycle(settings: Settings, feeds_file: Path, *, due_only: bool = False,
              observer: CycleObserver | None = None) -> CycleReport:
    """Load the feeds file and run one full cycle (every feed, or only the due ones)."""
    specs = load_feed_specs(feeds_file)
    with Pipeline(settings) as pipeline:
        selected = pipeline.select_due(specs) if due_only else specs
        report = pipeline.run(selected, observer)
        if settings.push.callback_url:  # WebSub: subscribe to the hubs found, renew, unsubscribe
            from newsflow.app.push import reconcile_subscriptions

            more = reconcile_subscriptions(pipeline.client, settings, specs, pipeline.hub_links)
            report = replace(report, problems=tuple(dict.fromkeys(report.problems + more)))
    return replace(report, feeds_total=len(specs)) if due_only else report


def _retries(count: int) -> str:
    return f"{count} {'retry' if count == 1 else 'retries'}"


def outage_seen(problems: Sequence[str], reason: str) -> bool:
    """Whether the deferral's reason (Elasticsearch unreachable) is reported already."""
    return reason in problems


class _EarlyStates:
    """Saves to Elasticsearch, during the poll, the states of feeds that brought no articles
    (nothing of theirs is to be indexed first), in bulks of `batch` from a thread of its own.
    `offer` is called in the poll's event loop and never blocks; `finish` waits for the writes and
    returns the keys saved. States not sent by then (the last partial bulk, or all of them after a
    failed write) are saved after the poll with the rest, as before."""

    def __init__(self, store: FeedStates, batch: int = 500) -> None:
        self._store = store
        self._batch = batch
        self._pending: list[FeedState] = []
        self._queue: queue.SimpleQueue[list[FeedState] | None] = queue.SimpleQueue()
        self._saved: set[str] = set()
        self._thread: threading.Thread | None = None

    def offer(self, result: FeedResult) -> None:
        if result.articles:
            return
        self._pending.append(result.state)
        if len(self._pending) >= self._batch:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, name="feed-state-writer", daemon=True)
                self._thread.start()
            self._queue.put(self._pending)
            self._pending = []

    def finish(self) -> frozenset[str]:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        return frozenset(self._saved)

    def _write(self) -> None:
        failed = False
        while (states := self._queue.get()) is not None:
            if failed:
                continue  # saved after the poll, with the rest
            try:
                self._store.save(states)
            except Exception as exc:  # IndexError_, or a bug: the states are saved after the poll
                failed = True
                log.warning("feed states not saved during the poll (saved after it): %s", exc)
                continue
            self._saved.update(state.key for state in states)


class _FoundDown(Exception):
    """Elasticsearch was found unreachable at the start of the cycle: skip the lookups."""


@dataclass(frozen=True, slots=True)
class _Kept:
    stored: int = 0  # articles put in the spool
    lost: frozenset[str] = frozenset()  # ids neither indexed nor spooled


def _keep(spool: ArticleSpool, unwritten: Sequence[Article], spooled_before: Sequence[Article],
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
