"""The Elasticsearch half of the scale-out drill (issue 19): a full cycle against the three-node rig
cluster while the data node holding the articles index's primary is stopped, then recovery.

1. The rig cluster (newsflow.dev.es_cluster) is brought up; the drill uses an index prefix and a
   NEWSFLOW_HOME of its own, so `replicas: auto` resolves to 1 and nothing else is touched.
2. N news feeds of the shared corpus are served on 127.0.0.1 (newsflow.dev.bench.serve_directory),
   with a few alert rules that match many stories (alerts go to a log file).
3. Cycle 1 is `newsflow run`'s own cycle (newsflow.app.cycle.run_cycle). When the index stage has
   indexed its first group, the node holding the articles primary is stopped (in a thread, while
   the cycle goes on). With `client_on="primary"` (the default) NEWSFLOW_ES_URL points at that
   node: Elasticsearch is unreachable for the rest of the cycle and its articles spool on disk.
   With "other" it points at a node that stays up: the replica is promoted and nothing spools.
4. The node is started again; the time until the cluster is green again is measured.
5. Cycle 2 drains the spool. Then the counts: articles expected (new in cycle 1) against documents
   indexed and distinct ids, alerts against distinct (rule, story), and the spool.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch, helpers

from newsflow.alerts.rules import RuleStore
from newsflow.alerts.store import alerts_index
from newsflow.app.cycle import run_cycle
from newsflow.app.indices import ensure_all
from newsflow.app.report import CycleReport
from newsflow.core.errors import StackError
from newsflow.core.settings import Settings, load_settings
from newsflow.dev.bench import BenchOptions, select_feed_files, serve_directory
from newsflow.dev.es_cluster import EsCluster, primary_nodes
from newsflow.index.cleanup import delete_prefix
from newsflow.index.spool import Spool

log = logging.getLogger(__name__)

# Rules that match many stories: each (rule, story) must be alerted once, however often its
# articles are retried, spooled or re-indexed.
DRILL_RULES = {
    "drill-all": "*",
    "drill-government": "government OR minister OR president",
    "drill-economy": "economy OR market OR prices OR bank",
    "drill-said": "said",
}


@dataclass(frozen=True, slots=True)
class DrillOptions:
    feeds: int = 248
    keep: bool = False  # keep the drill's indices and home afterwards
    # Which node NEWSFLOW_ES_URL points at: "primary" = the node that is stopped (the cluster is
    # unreachable for the rest of cycle 1: its articles spool on disk), "other" = a node that stays
    # up (the cluster promotes the replica; the cycle goes on without spooling).
    client_on: str = "primary"


@dataclass(slots=True)
class _StopPrimary:
    """A CycleObserver that stops the articles primary's node once the first articles are indexed."""

    cluster: EsCluster
    alias: str
    es_url: str  # the node the cycle's client talks to
    say: Callable[[str], None]
    stopped: dict[str, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None
    indexed: int = 0

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, name: str, amount: int = 1) -> None:
        if name != "index":
            return
        self.indexed += amount
        if self.thread is not None:
            return
        probe = Elasticsearch(self.cluster.urls, request_timeout=10)
        try:
            holders = primary_nodes(probe, self.alias)
        finally:
            probe.close()
        index = _node_index(self.cluster, holders)
        self.stopped.update(node=self.cluster.nodes[index].name, index=index,
                            after_indexed=self.indexed, at=time.monotonic(),
                            coordinating=self.cluster.nodes[index].url == self.es_url)
        self.say(f"stopping {self.cluster.nodes[index].name} (holds the primary of {self.alias}) "
                 f"after {self.indexed} articles were indexed")
        self.thread = threading.Thread(target=self.cluster.stop_node, args=(index,), daemon=True)
        self.thread.start()


class _HealthLog:
    """Samples the cluster's colour and node count every second in a thread: the transitions."""

    def __init__(self, cluster: EsCluster) -> None:
        self.cluster = cluster
        self.start = time.monotonic()
        self.transitions: list[tuple[float, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            current = self.cluster.status()
            state = (current.cluster_status, current.nodes_joined)
            if not self.transitions or self.transitions[-1][1:] != state:
                self.transitions.append((round(time.monotonic() - self.start, 1), *state))
            self._stop.wait(1.0)

    def close(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join()
        return [{"t": t, "status": colour, "nodes": nodes} for t, colour, nodes in self.transitions]

    def seconds_not_green(self) -> float:
        """Time spent yellow or red (or unreachable) after the first green sample."""
        total, since = 0.0, None
        for t, colour, _ in self.transitions:
            if colour != "green" and since is None:
                since = t
            elif colour == "green" and since is not None:
                total, since = total + t - since, None
        return round(total, 1)


def run_drill(base: Settings, cluster: EsCluster, options: DrillOptions,
              say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the drill against `cluster` (brought up if needed); the figures as a JSON object."""
    tell = say or (lambda message: log.info("%s", message))
    started = time.monotonic()
    cluster.up()
    drill_id = uuid.uuid4().hex[:6]
    home = cluster.rig_dir / f"drill-{drill_id}"
    home.mkdir(parents=True)
    if options.client_on not in ("primary", "other"):
        raise StackError(f"client_on {options.client_on!r}: use primary or other")
    client = Elasticsearch(cluster.urls, request_timeout=60, retry_on_timeout=True, max_retries=3)
    # One loopback host serves every feed: no politeness delay (as in `newsflow bench`).
    settings = load_settings(es_url=cluster.url, index_prefix=f"drill{drill_id}", home=home,
                             fetch={**base.fetch.model_dump(), "politeness_delay": 0.0,
                                    "allow_private_addresses": True})
    ensure_all(client, settings)  # the articles index exists: its primary's node is known
    alias = settings.index_name("articles")
    client.cluster.health(index=alias, wait_for_status="yellow", timeout="60s")
    holder = _node_index(cluster, primary_nodes(client, alias))
    talk_to = holder if options.client_on == "primary" else (holder + 1) % len(cluster.nodes)
    settings = load_settings(**{**_overrides(settings), "es_url": cluster.nodes[talk_to].url})
    corpus = BenchOptions().corpus
    if not corpus.is_dir():
        raise StackError(f"the shared corpus is not at {corpus}: set NEWSFLOW_SHARED_DIR to the folder "
                         "holding corpus/")
    files = select_feed_files(BenchOptions(max_feeds=options.feeds))
    if not files:
        raise StackError("no corpus feeds found: set NEWSFLOW_SHARED_DIR to the folder holding corpus/")
    health: _HealthLog | None = None
    try:
        with serve_directory(files[0].parent) as base_url:
            feeds_file = home / "feeds.yaml"
            feeds_file.write_text("feeds:\n" + "".join(f"  - url: {base_url}/{path.name}\n"
                                                       for path in files), encoding="utf-8")
            rules = RuleStore(client, settings)
            rules.ensure_exists()
            channel = f"log:{home / 'alerts.jsonl'}"
            for name, query in DRILL_RULES.items():
                rules.add(name, query, [channel])
            observer = _StopPrimary(cluster, alias, settings.es_url, tell)
            health = _HealthLog(cluster)
            tell(f"cycle 1 over {len(files)} feeds via {settings.es_url} (the articles primary is on "
                 f"{cluster.nodes[holder].name})")
            first = run_cycle(settings, feeds_file, observer=observer)
            if observer.thread is not None:
                observer.thread.join()
            stopped = dict(observer.stopped)
            if not stopped:
                raise StackError("cycle 1 indexed nothing, so no node was stopped: check the feeds")
            during = cluster.status()
            tell(f"cycle 1 done: {first.indexed} indexed, {first.spooled} spooled; cluster "
                 f"{during.cluster_status} with {during.nodes_joined} nodes")
            restart = time.monotonic()
            cluster.start_node(int(stopped["index"]))
            cluster.wait_status("yellow", nodes=len(cluster.nodes),
                                watch=[cluster.nodes[int(stopped["index"])]])
            joined = time.monotonic()
            cluster.wait_status("green")
            green = time.monotonic()
            tell(f"node back: joined after {joined - restart:.1f} s, green after {green - restart:.1f} s")
            second = run_cycle(settings, feeds_file)
            transitions = health.close()
        figures = _count(client, settings, alias, first, second)
        figures.update({
            "feeds": len(files),
            "stopped_node": stopped["node"],
            "stopped_after_indexed": stopped["after_indexed"],
            "stopped_node_was_coordinating": stopped["coordinating"],
            "client_on": options.client_on,
            "cluster_during_outage": during.cluster_status,
            "node_rejoined_seconds": round(joined - restart, 1),
            "yellow_to_green_seconds": round(green - joined, 1),
            "seconds_not_green": health.seconds_not_green(),
            "health_transitions": transitions,
            "stopped_at": round(float(stopped["at"]) - health.start, 1),
            "restart_to_green_seconds": round(green - restart, 1),
            "cycle_1": _cycle(first),
            "cycle_2": _cycle(second),
            "store": store_sizes(client, alias),
            "seconds": round(time.monotonic() - started, 1),
            "prefix": settings.index_prefix,
        })
        figures["ok"] = (figures["lost"] == 0 and figures["duplicated"] == 0
                         and figures["repeated_alerts"] == 0 and figures["spool_left"] == 0
                         and figures["cluster_after"] == "green")
        return figures
    finally:
        if health is not None:
            health.close()
        if not options.keep:
            try:
                delete_prefix(client, settings.index_prefix)
            except Exception as exc:  # cleanup must not hide the drill's own error
                log.warning("could not delete the drill's indices %s-*: %s", settings.index_prefix, exc)
            shutil.rmtree(home, ignore_errors=True)
        client.close()


def _node_index(cluster: EsCluster, holders: list[str]) -> int:
    by_name = {node.name: node.index for node in cluster.nodes}
    if not holders or holders[0] not in by_name:
        raise StackError(f"no started primary of the articles index on a rig node (found {holders})")
    return by_name[holders[0]]


def _overrides(settings: Settings) -> dict[str, Any]:
    return {"es_url": settings.es_url, "index_prefix": settings.index_prefix, "home": settings.home,
            "fetch": settings.fetch.model_dump()}


def _count(client: Elasticsearch, settings: Settings, alias: str, first: CycleReport,
           second: CycleReport) -> dict[str, Any]:
    client.indices.refresh(index=f"{settings.index_prefix}-*")
    ids = [hit["_id"] for hit in helpers.scan(client, index=alias, query={"query": {"match_all": {}}},
                                               _source=False, size=2000)]
    distinct = set(ids)
    expected = first.new + first.updated
    alerts = [hit["_source"] for hit in helpers.scan(
        client, index=alerts_index(settings), query={"query": {"match_all": {}}},
        _source=["id", "rule", "story_id"], size=2000)]
    pairs = Counter((alert["rule"], alert["story_id"]) for alert in alerts)
    alert_ids = Counter(alert["id"] for alert in alerts)
    spool = Spool(settings.spool_dir, settings.index.spool_max_bytes)
    health = client.cluster.health()
    return {
        "articles_expected": expected,
        "articles_indexed": len(ids),
        "articles_distinct": len(distinct),
        "lost": max(0, expected - len(distinct)),
        "duplicated": len(ids) - len(distinct),
        "alerts_total": len(alerts),
        "alerts_distinct_rule_story": len(pairs),
        "repeated_alerts": len(alerts) - len(pairs),
        "repeated_alert_ids": sum(n - 1 for n in alert_ids.values()),
        "spool_left": len(spool),
        "cluster_after": str(health["status"]),
        "replicas": int(client.indices.get_settings(index=alias, name="index.number_of_replicas")
                        .popitem()[1]["settings"]["index"]["number_of_replicas"]),
    }


def store_sizes(client: Elasticsearch, alias: str) -> dict[str, Any]:
    """Bytes per article in the articles indices: primaries alone and with the replica."""
    client.indices.forcemerge(index=alias, max_num_segments=1, wait_for_completion=True)
    client.indices.refresh(index=alias)
    stats = client.indices.stats(index=alias, metric="store,docs")["_all"]
    docs = int(stats["primaries"]["docs"]["count"])
    primary = int(stats["primaries"]["store"]["size_in_bytes"])
    total = int(stats["total"]["store"]["size_in_bytes"])
    return {"docs": docs, "primary_bytes": primary, "total_bytes": total,
            "bytes_per_article_primary": round(primary / docs) if docs else None,
            "bytes_per_article_with_replica": round(total / docs) if docs else None,
            "force_merged": True}


def _cycle(report: CycleReport) -> dict[str, Any]:
    return {"seconds": round(report.seconds, 1), "new": report.new, "indexed": report.indexed,
            "spooled": report.spooled, "from_spool": report.from_spool, "not_kept": report.not_kept,
            "dead_lettered": report.dead_lettered, "alerts_created": report.alerts.created,
            "alerts_sent": report.alerts.sent, "alerts_deferred": report.alerts.deferred,
            "feeds_failed": report.failed, "problems": list(report.problems)}


def summary(figures: dict[str, Any]) -> str:
    """A few lines for people, after the JSON."""
    verdict = "PASSED" if figures["ok"] else "FAILED"
    return "\n".join([
        f"drill {verdict}: {figures['feeds']} feeds, {figures['seconds']} s in all",
        f"  stopped {figures['stopped_node']} (articles primary"
        + (", the node the client talks to" if figures["stopped_node_was_coordinating"] else "")
        + f") after {figures['stopped_after_indexed']} articles were indexed; cluster "
        f"{figures['cluster_during_outage']} meanwhile",
        f"  articles: {figures['articles_expected']} expected, {figures['articles_indexed']} indexed, "
        f"{figures['articles_distinct']} distinct ids -> {figures['lost']} lost, "
        f"{figures['duplicated']} duplicated",
        f"  cycle 1 spooled {figures['cycle_1']['spooled']}, cycle 2 indexed "
        f"{figures['cycle_2']['from_spool']} from the spool; {figures['spool_left']} left in the spool",
        f"  alerts: {figures['alerts_total']} recorded, {figures['alerts_distinct_rule_story']} distinct "
        f"(rule, story) -> {figures['repeated_alerts']} repeated",
        f"  node back: rejoined in {figures['node_rejoined_seconds']} s, yellow -> green in "
        f"{figures['yellow_to_green_seconds']} s; cluster {figures['cluster_after']} at the end",
        f"  not green for {figures['seconds_not_green']} s in all (node stopped at "
        f"{figures['stopped_at']} s): "
        + ", ".join(f"{h['t']} s {h['status']}/{h['nodes']}" for h in figures["health_transitions"]),
        f"  store: {figures['store']['bytes_per_article_primary']} bytes/article primary, "
        f"{figures['store']['bytes_per_article_with_replica']} with the replica "
        f"({figures['replicas']} replica)",
    ])
