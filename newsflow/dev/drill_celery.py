"""The worker-kill drill of the Celery rig (`newsflow rig drill`): a Celery worker dies mid-run and
nothing is lost, duplicated or alerted twice.

1. N corpus feeds are served on 127.0.0.1; a fresh index prefix gets the indices and saved rules
   (alerts to a log file); a rig of the drill's own starts under a scratch folder (Redis, PostgreSQL,
   scheduler, dag-processor, triggerer, API server, W Celery workers), its Redis on a free port;
2. `news_ingest` is triggered; once a shard task has run for a few seconds, the worker running it
   (found by the task's PID in the workers' process trees) is SIGKILLed with its whole process tree:
   the main process, its pool processes, the task supervisors and task runners under them;
3. the worker is started again (the scheduler fails the silent task after the heartbeat timeout and
   the DAG's retries run it again, on whichever worker takes it);
4. when the run ends, the counts: articles expected (distinct ids of the served feeds' items, parsed
   here) against indexed hits, distinct ids and distinct URLs (0 lost, 0 duplicated); alerts in the
   alerts index, total against distinct (rule, story) (0 repeated), and delivered log lines against
   distinct alert ids; the spool (empty); the run's state (success); which task was retried and on
   which worker each try ran;
5. from the shards' reports: words per second of enrichment per task slot, fetch seconds per feed.

The combined drill (`newsflow rig drill --es-cluster`, issue 19): the same run against the rig's
three-node Elasticsearch cluster (newsflow.dev.es_cluster, started if not running). The indices are
created and the cluster waits for green (the replicas allocated); the workers' NEWSFLOW_ES_URL
points at a node that does NOT hold the articles primary (`es_client_on="other"`), and at the
moment the worker is SIGKILLed the node holding that primary is stopped (SIGTERM, in a thread), so
the cluster promotes the replica while the run goes on and the killed shard's retry runs on two
nodes. When the run has ended the node is started again and the drill waits for green. With
`es_client_on="primary"` the workers talk to the stopped node itself: Elasticsearch is unreachable
for them, their articles spool on disk, and a second `news_ingest` run after the node is back
drains the spool. The cluster's colour is sampled every second throughout. A cluster the drill
started is stopped at the end.

Everything it starts is stopped by PID at the end; its indices are deleted unless kept.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsflow.core.settings import Settings
from newsflow.dev.local_airflow import RIG_HEARTBEAT_TIMEOUT, parent_pids, process_tree
from newsflow.dev.pids import alive

if TYPE_CHECKING:
    from newsflow.dev.es_cluster import EsCluster

DEFAULT_FEEDS = 12
DEFAULT_SHARDS = 4  # shards the feeds are spread over when no shard size is given
KILL_AFTER_RUNNING = 4.0  # seconds a shard task runs before its worker is killed (mid-shard)
RUN_TIMEOUT = 900.0
ES_CLIENT_ON = ("other", "primary")  # the node the workers talk to, against the one stopped


@dataclass(frozen=True, slots=True)
class DrillOptions:
    feeds: int = DEFAULT_FEEDS
    shard_size: int | None = None
    workers: int = 2
    concurrency: int = 2
    redis_port: int | None = None  # None: a free port
    rules: int = 50
    restart_worker: bool = True
    heartbeat_timeout: int = RIG_HEARTBEAT_TIMEOUT  # seconds before a silent task is failed
    keep_indices: bool = False
    corpus: Path | None = None
    es_client_on: str = "other"  # with a cluster: see ES_CLIENT_ON and the module's docstring


def choose_es_nodes(holder: int, nodes: int, client_on: str) -> tuple[int, int]:
    """(the node to stop, the node the workers talk to) when node `holder` holds the articles
    primary: "other" = the next node (it stays up, the replica is promoted), "primary" = the holder
    itself (the workers lose Elasticsearch and spool). Pure."""
    if client_on not in ES_CLIENT_ON:
        raise ValueError(f"es_client_on {client_on!r}: choose one of {', '.join(ES_CLIENT_ON)}")
    if not 0 <= holder < nodes:
        raise ValueError(f"node {holder} is not one of the cluster's {nodes} nodes")
    if client_on == "other" and nodes < 2:
        raise ValueError("a node other than the stopped one needs a cluster of two or more nodes")
    return holder, holder if client_on == "primary" else (holder + 1) % nodes


def drill_verdict(counts: Mapping[str, Any]) -> dict[str, bool]:
    """Which of the drill's promises held (with a cluster, its two as well). Pure."""
    verdict = {
        "worker_killed_mid_run": bool(counts.get("killed")),
        "run_succeeded": counts.get("run_state") == "success",
        "a_task_was_retried": bool(counts.get("retried")),
        "no_article_lost": counts["articles"]["lost"] == 0 and counts["articles"]["expected"] > 0,
        "no_article_duplicated": counts["articles"]["duplicated"] == 0,
        "no_alert_repeated": (counts["alerts"]["repeated"] == 0
                              and counts["alerts"]["repeated_deliveries"] == 0),
        "spool_empty": counts["spool_batches"] == 0,
    }
    es = counts.get("es_cluster")
    if es is not None:
        verdict["es_node_stopped_mid_run"] = bool(es.get("stopped_node")) and bool(es.get("stopped_mid_run"))
        verdict["cluster_green_after"] = es.get("cluster_after") == "green"
        if es.get("client_on") == "primary":
            verdict["drain_run_succeeded"] = es.get("drain_run_state") == "success"
    return verdict


def kill_tree(root: int) -> list[int]:
    """SIGKILL `root`'s whole process tree (its process group too); the PIDs killed."""
    tree = process_tree(root)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        if os.getpgid(root) == root:
            os.killpg(root, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return tree


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_drill(options: DrillOptions, settings: Settings,
              say: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
              cluster: EsCluster | None = None) -> dict[str, Any]:
    """The drill; with `cluster`, the combined drill against that Elasticsearch cluster."""
    import threading

    import httpx

    from newsflow.app.indices import ensure_all
    from newsflow.core.es import make_client
    from newsflow.dev.bench import (
        DEFAULT_CORPUS,
        BenchOptions,
        parsed_articles,
        select_feed_files,
        serve_directory,
        unpacked_feeds,
    )
    from newsflow.dev.bench_alerts import create_rules
    from newsflow.dev.local_airflow import LocalAirflow
    from newsflow.index.cleanup import delete_prefix

    files = select_feed_files(BenchOptions(corpus=options.corpus or DEFAULT_CORPUS, news_only=True,
                                           max_feeds=options.feeds))
    if not files:
        raise FileNotFoundError(f"no feed files under {options.corpus or DEFAULT_CORPUS}")
    prefix = f"drillcel{uuid.uuid4().hex[:6]}"
    scratch = Path(tempfile.mkdtemp(prefix="nf-celdrill-"))
    scratch.chmod(0o755)  # as root PostgreSQL runs as another user, who must reach its folder
    home = scratch / "home"
    home.mkdir()
    drill_settings = settings.model_copy(update={"index_prefix": prefix, "home": home})
    es: dict[str, Any] | None = None
    cluster_started = False
    if cluster is not None:
        from elasticsearch import Elasticsearch

        choose_es_nodes(0, len(cluster.nodes), options.es_client_on)  # refuse a bad choice early
        cluster_started = any(node.pid() is None for node in cluster.nodes)
        say(f"{'starting' if cluster_started else 'using'} the rig's Elasticsearch cluster "
            f"({len(cluster.nodes)} nodes, {cluster.url})")
        cluster.up()
        drill_settings = drill_settings.model_copy(update={"es_url": cluster.url})
        client = Elasticsearch(cluster.urls, request_timeout=60, retry_on_timeout=True, max_retries=3)
        es = {"nodes": len(cluster.nodes), "client_on": options.es_client_on,
              "cluster_started_by_drill": cluster_started}
    else:
        client = make_client(drill_settings)
    shard_size = options.shard_size or max(1, math.ceil(len(files) / DEFAULT_SHARDS))
    airflow: LocalAirflow | None = None
    health: Any = None
    stopper: threading.Thread | None = None
    node_down: int | None = None  # the stopped node, until it is started again
    result: dict[str, Any] = {"feeds": len(files), "workers": options.workers,
                              "heartbeat_timeout": options.heartbeat_timeout,
                              "concurrency": options.concurrency, "shard_size": shard_size,
                              "index_prefix": prefix, "cores": os.cpu_count(),
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        served = scratch / "feeds"
        served_files = unpacked_feeds(files, served)
        articles = parsed_articles(served_files)
        expected_ids = {a.id for a in articles}
        words_of_feed: Counter[str] = Counter()
        with serve_directory(served) as base_url:
            for a in articles:
                text = f"{a.title} {a.body or a.summary}"
                words_of_feed[a.feed_url.rsplit("/", 1)[-1]] += len(text.split())
            feeds_file = scratch / "feeds.yaml"
            feeds_file.write_text("feeds:\n" + "".join(f"  - url: {base_url}/{p.name}\n"
                                                        for p in served_files))
            ensure_all(client, drill_settings)
            if cluster is not None and es is not None:
                from newsflow.dev.drill import _HealthLog, _node_index
                from newsflow.dev.es_cluster import primary_nodes

                alias = drill_settings.index_name("articles")
                # Green: every replica allocated, so stopping the primary's node loses no shard.
                client.cluster.health(index=f"{prefix}-*", wait_for_status="green", timeout="120s")
                holder = _node_index(cluster, primary_nodes(client, alias))
                stop_index, talk_to = choose_es_nodes(holder, len(cluster.nodes), options.es_client_on)
                drill_settings = drill_settings.model_copy(update={"es_url": cluster.nodes[talk_to].url})
                es.update(stopped_node=None, articles_primary_on=cluster.nodes[holder].name,
                          workers_es_url=drill_settings.es_url, replicas=int(
                              client.indices.get_settings(index=alias, name="index.number_of_replicas")
                              .popitem()[1]["settings"]["index"]["number_of_replicas"]))
                say(f"workers talk to {drill_settings.es_url}; the articles primary is on "
                    f"{cluster.nodes[holder].name}, stopped when the worker is killed")
                health = _HealthLog(cluster)
            alert_log = scratch / "alerts.jsonl"
            create_rules(client, drill_settings, options.rules, articles, channel=f"log:{alert_log}")

            airflow = LocalAirflow(
                drill_settings, home=home / "rig", say=say, executor="celery", workers=options.workers,
                worker_concurrency=options.concurrency, redis_port=options.redis_port or _free_port(),
                extra_env={
                    "NEWSFLOW_FETCH__POLITENESS_DELAY": "0",  # every feed on one loopback host
                    "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
                    "NEWSFLOW_FETCH__PER_HOST_CONCURRENCY": "8",
                    "NEWSFLOW_INGEST_SHARD_SIZE": str(shard_size),
                    "NEWSFLOW_INGEST_SCHEDULE": "none",
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(options.heartbeat_timeout),
                })
            say(f"starting the drill's Celery rig ({options.workers} workers x {options.concurrency})")
            started = time.perf_counter()
            airflow.up()
            result["rig_start_seconds"] = round(time.perf_counter() - started, 1)

            with httpx.Client(base_url=airflow.url, timeout=30.0,
                              headers={"Authorization": f"Bearer {airflow.token()}"}) as api:
                airflow._wait_for_dag(api, "news_ingest", timeout=180.0)
                api.patch("/api/v2/dags/news_ingest", json={"is_paused": False}).raise_for_status()
                run_started = time.perf_counter()
                response = api.post("/api/v2/dags/news_ingest/dagRuns",
                                    json={"logical_date": None, "conf": {"feeds_file": str(feeds_file)}})
                response.raise_for_status()
                run_id = str(response.json()["dag_run_id"])
                say(f"triggered news_ingest run {run_id} over {len(files)} feeds, shards of {shard_size}")
                killed: dict[str, Any] | None = None
                deadline = time.monotonic() + RUN_TIMEOUT
                state = "queued"
                while state not in ("success", "failed"):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"run {run_id} did not finish in {RUN_TIMEOUT:.0f}s")
                    time.sleep(1.0)
                    try:
                        state = str(api.get(f"/api/v2/dags/news_ingest/dagRuns/{run_id}").json()["state"])
                        rows = _task_instances(api, run_id) if killed is None else []
                    except (httpx.TransportError, KeyError, ValueError):
                        continue  # a busy API server missed a poll
                    if killed is None:
                        killed = _kill_a_running_shard(airflow, rows, say)
                        if killed is not None and cluster is not None and es is not None:
                            node_down = stop_index
                            es.update(stopped_node=cluster.nodes[stop_index].name,
                                      stopped_at_run_seconds=round(time.perf_counter() - run_started, 1),
                                      stopped_at_health_seconds=round(time.monotonic() - health.start, 1),
                                      stopped_node_was_workers=stop_index == talk_to)
                            stopper = threading.Thread(target=_stop_node, daemon=True,
                                                       args=(cluster, stop_index, es, run_started))
                            stopper.start()
                        if killed is not None and options.restart_worker:
                            airflow.start_worker(killed["worker"])
                            airflow.wait_worker_ready(killed["worker"])
                            killed["restarted_after_seconds"] = round(time.monotonic() - killed["at"], 1)
                        if killed is not None:
                            killed["at_run_seconds"] = round(time.perf_counter() - run_started, 1)
                            killed.pop("at")
                result["run_seconds"] = round(time.perf_counter() - run_started, 1)
                result["run_id"], result["run_state"], result["killed"] = run_id, state, killed
                if cluster is not None and es is not None and stopper is not None and node_down is not None:
                    stopper.join()
                    # Down (its process gone) before the run ended: the rest of the run had 2 nodes.
                    down_at = float(es.get("down_at_run_seconds") or math.inf)
                    es["stopped_mid_run"] = down_at < result["run_seconds"]
                    during = cluster.status()
                    es["cluster_at_run_end"] = f"{during.cluster_status}/{during.nodes_joined} nodes"
                    restart = time.monotonic()
                    cluster.start_node(node_down)
                    cluster.wait_status("yellow", nodes=len(cluster.nodes), watch=[cluster.nodes[node_down]])
                    joined = time.monotonic()
                    cluster.wait_status("green")
                    green = time.monotonic()
                    node_down = None
                    es.update(node_rejoined_seconds=round(joined - restart, 1),
                              restart_to_green_seconds=round(green - restart, 1))
                    say(f"{es['stopped_node']} back: joined after {joined - restart:.1f} s, green after "
                        f"{green - restart:.1f} s")
                    if options.es_client_on == "primary":
                        es["drain_run_state"], es["drain_run_seconds"] = _drain_run(api, feeds_file, say)
                rows = _task_instances(api, run_id)
                result["retried"] = _tries(api, run_id, rows)
                shards = _shard_reports(api, run_id, rows)
                plan = _xcom(api, run_id, "plan", -1)
                result["alerts_task"] = _xcom(api, run_id, "alerts", -1)

        result["articles"] = _article_counts(client, drill_settings, expected_ids)
        result["alerts"] = _alert_counts(client, drill_settings, alert_log)
        from newsflow.index.spool import Spool

        result["spool_batches"] = len(Spool(drill_settings.spool_dir, drill_settings.index.spool_max_bytes))
        result["throughput"] = shard_throughput(shards, plan if isinstance(plan, list) else [], words_of_feed)
        if es is not None:
            es["cluster_after"] = str(client.cluster.health()["status"])
            if health is not None:
                es["seconds_not_green"] = health.seconds_not_green()
                es["health_transitions"] = health.close()
                health = None
            result["es_cluster"] = es
    finally:
        if health is not None:
            health.close()
        if airflow is not None:
            say("stopping the drill's rig")
            airflow.down()
        if cluster is not None and node_down is not None:
            if stopper is not None:
                stopper.join()
            cluster.start_node(node_down)  # the drill failed with the node down: give it back
        if not options.keep_indices:
            delete_prefix(client, prefix)
        client.close()
        shutil.rmtree(scratch, ignore_errors=True)
        if cluster is not None and cluster_started and not options.keep_indices:
            say("stopping the rig cluster the drill started")
            cluster.down()
    result["verdict"] = drill_verdict(result)
    result["ok"] = all(result["verdict"].values())
    return result


def _stop_node(cluster: EsCluster, index: int, es: dict[str, Any], run_started: float) -> None:
    """Stop node `index` (SIGTERM, waiting for its exit); note in `es` when it was down."""
    cluster.stop_node(index)
    es["down_at_run_seconds"] = round(time.perf_counter() - run_started, 1)


def _drain_run(api: Any, feeds_file: Path, say: Callable[[str], None]) -> tuple[str, float]:
    """A second news_ingest run over the same feeds (its shards index what the first spooled);
    its final state and seconds."""
    import httpx

    started = time.perf_counter()
    response = api.post("/api/v2/dags/news_ingest/dagRuns",
                        json={"logical_date": None, "conf": {"feeds_file": str(feeds_file)}})
    response.raise_for_status()
    run_id = str(response.json()["dag_run_id"])
    say(f"triggered news_ingest run {run_id} to drain the spool")
    deadline, state = time.monotonic() + RUN_TIMEOUT, "queued"
    while state not in ("success", "failed"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} did not finish in {RUN_TIMEOUT:.0f}s")
        time.sleep(1.0)
        try:
            state = str(api.get(f"/api/v2/dags/news_ingest/dagRuns/{run_id}").json()["state"])
        except (httpx.TransportError, KeyError, ValueError):
            continue
    return state, round(time.perf_counter() - started, 1)


def summary(result: Mapping[str, Any]) -> str:
    """A few lines for people, beside the JSON. Pure."""
    articles, alerts, killed = result["articles"], result["alerts"], result.get("killed") or {}
    lines = [
        f"drill {'PASSED' if result.get('ok') else 'FAILED'}: {result['feeds']} feeds, "
        f"{result['workers']} workers x {result['concurrency']}, run {result.get('run_state')} in "
        f"{result.get('run_seconds')} s",
        f"  worker {killed.get('worker')} SIGKILLed at {killed.get('at_run_seconds')} s "
        f"({killed.get('processes_killed')} processes) running ingest_shard[{killed.get('map_index')}]; "
        f"retried: " + (", ".join(f"{r['task_id']}[{r['map_index']}]" for r in result.get("retried") or [])
                        or "none"),
        f"  articles: {articles['expected']} expected, {articles['indexed_hits']} indexed, "
        f"{articles['distinct_ids']} distinct ids, {articles['distinct_urls']} distinct URLs -> "
        f"{articles['lost']} lost, {articles['duplicated']} duplicated",
        f"  alerts: {alerts['records']} recorded, {alerts['distinct_rule_story']} distinct (rule, story), "
        f"{alerts['delivered_lines']} delivered -> {alerts['repeated']} repeated, "
        f"{alerts['repeated_deliveries']} repeated deliveries; spool batches left: {result['spool_batches']}",
    ]
    es = result.get("es_cluster")
    if es is not None:
        workers = ("the workers' node" if es.get("stopped_node_was_workers")
                   else f"workers on {es.get('workers_es_url')}")
        lines.append(
            f"  Elasticsearch: {es.get('stopped_node')} (articles primary; {workers}) stopped at "
            f"{es.get('stopped_at_run_seconds')} s, down at {es.get('down_at_run_seconds')} s; "
            f"{es.get('cluster_at_run_end')} at the run's end; back: joined "
            f"{es.get('node_rejoined_seconds')} s, green {es.get('restart_to_green_seconds')} s after "
            f"its start; not green {es.get('seconds_not_green')} s in all; cluster "
            f"{es.get('cluster_after')} at the end")
    return "\n".join(lines)


def _task_instances(api: Any, run_id: str) -> list[dict[str, Any]]:
    rows = api.get(f"/api/v2/dags/news_ingest/dagRuns/{run_id}/taskInstances",
                   params={"limit": 1000}).json()["task_instances"]
    return list(rows)


def _kill_a_running_shard(airflow: Any, rows: Sequence[Mapping[str, Any]],
                          say: Callable[[str], None]) -> dict[str, Any] | None:
    """SIGKILL the worker of a shard task that has run for KILL_AFTER_RUNNING s; what was killed."""
    from datetime import UTC, datetime

    from newsflow.dev.local_airflow import worker_name

    now = datetime.now(UTC)
    for row in rows:
        if row.get("task_id") != "ingest_shard" or row.get("state") != "running" or not row.get("pid"):
            continue
        started = row.get("start_date")
        if not started or (now - datetime.fromisoformat(started)).total_seconds() < KILL_AFTER_RUNNING:
            continue
        task_pid = int(row["pid"])
        parents = parent_pids()
        for n in range(1, airflow.workers + 1):
            worker_pid = airflow.pid(worker_name(n))
            if worker_pid is None or task_pid not in process_tree(worker_pid, parents):
                continue
            tree = kill_tree(worker_pid)
            time.sleep(0.5)
            survivors = [pid for pid in tree if alive(pid)]
            say(f"SIGKILLed Celery worker {n} (pid {worker_pid}, {len(tree)} processes) while it ran "
                f"ingest_shard[{row.get('map_index')}] try {row.get('try_number')} (task pid {task_pid})")
            return {"worker": n, "worker_pid": worker_pid, "processes_killed": len(tree),
                    "survivors": survivors, "task_id": "ingest_shard", "map_index": row.get("map_index"),
                    "try_number": row.get("try_number"), "task_pid": task_pid, "at": time.monotonic()}
    return None


def _tries(api: Any, run_id: str, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every task instance that ran more than once, with the state and host of each try."""
    retried = []
    for row in rows:
        if int(row.get("try_number") or 0) <= 1:
            continue
        map_index = row.get("map_index")
        path = f"/api/v2/dags/news_ingest/dagRuns/{run_id}/taskInstances/{row['task_id']}"
        path += f"/{map_index}/tries" if map_index is not None and int(map_index) >= 0 else "/tries"
        response = api.get(path)
        tries = response.json().get("task_instances", []) if response.status_code == 200 else []
        retried.append({"task_id": row["task_id"], "map_index": map_index, "final_state": row.get("state"),
                        "tries": [{"try": t.get("try_number"), "state": t.get("state"),
                                   "hostname": t.get("hostname"), "duration": t.get("duration")}
                                  for t in tries]})
    return retried


def _xcom(api: Any, run_id: str, task_id: str, map_index: int) -> Any:
    response = api.get(f"/api/v2/dags/news_ingest/dagRuns/{run_id}/taskInstances/{task_id}"
                       "/xcomEntries/return_value", params={"map_index": map_index, "deserialize": True})
    if response.status_code != 200:
        return None
    value = response.json().get("value")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _shard_reports(api: Any, run_id: str, rows: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    reports = {}
    for row in rows:
        if row.get("task_id") == "ingest_shard" and row.get("state") == "success":
            value = _xcom(api, run_id, "ingest_shard", int(row["map_index"]))
            if isinstance(value, dict):
                reports[int(row["map_index"])] = {**value, "task_seconds": row.get("duration")}
    return reports


def shard_throughput(shards: Mapping[int, Mapping[str, Any]], plan: Sequence[Sequence[str]],
                     words_of_feed: Mapping[str, int]) -> dict[str, Any]:
    """Enrichment words/s per task slot and fetch seconds per feed, from the shards' own stage
    timings (the successful try of each). Pure."""
    per_shard = {}
    words_total = enrich_total = fetch_total = feeds_total = 0.0
    for index, report in sorted(shards.items()):
        stages = report.get("stage_seconds") or {}
        urls = plan[index] if index < len(plan) else []
        words = sum(words_of_feed.get(url.rsplit("/", 1)[-1], 0) for url in urls)
        enrich = float(stages.get("enrich") or 0.0)
        fetch = float(stages.get("fetch") or 0.0)
        feeds = len(urls)
        per_shard[str(index)] = {"feeds": feeds, "words": words, "enrich_seconds": enrich,
                                 "fetch_seconds": fetch, "stage_seconds": stages,
                                 "task_seconds": report.get("task_seconds"),
                                 "words_per_second": round(words / enrich) if enrich else None}
        words_total += words
        enrich_total += enrich
        fetch_total += fetch
        feeds_total += feeds
    return {
        "per_shard": per_shard,
        "words": int(words_total),
        "enrich_words_per_second_per_slot": round(words_total / enrich_total) if enrich_total else None,
        "fetch_seconds_per_feed": round(fetch_total / feeds_total, 4) if feeds_total else None,
    }


def _article_counts(client: Any, settings: Settings, expected: set[str]) -> dict[str, Any]:
    from elasticsearch import helpers

    pattern = f"{settings.index_name('articles')}*"  # every backing index, not only the alias
    client.indices.refresh(index=pattern)
    ids: Counter[str] = Counter()
    urls: Counter[str] = Counter()
    for hit in helpers.scan(client, index=pattern, query={"query": {"match_all": {}}}, size=1000,
                            _source=["url"]):
        ids[hit["_id"]] += 1
        urls[str(hit["_source"].get("url"))] += 1
    hits = sum(ids.values())
    client.indices.flush(index=pattern)
    store = client.indices.stats(index=pattern, metric="store")["_all"]["primaries"]["store"]
    stored = int(store.get("size_in_bytes") or 0)
    return {"expected": len(expected), "indexed_hits": hits, "distinct_ids": len(ids),
            "primary_store_bytes": stored, "bytes_per_article": round(stored / hits) if hits else None,
            "distinct_urls": len(urls), "lost": len(expected - set(ids)),
            "unexpected": len(set(ids) - expected),
            "duplicated": (hits - len(ids)) + (len(ids) - len(urls))}


def _alert_counts(client: Any, settings: Settings, alert_log: Path) -> dict[str, Any]:
    from elasticsearch import helpers

    index = settings.index_name("alerts")
    if not client.indices.exists(index=index):
        records: list[dict[str, Any]] = []
    else:
        client.indices.refresh(index=index)
        records = [hit["_source"] | {"_id": hit["_id"]} for hit in helpers.scan(
            client, index=index, query={"query": {"match_all": {}}}, size=1000)]
    pairs = Counter((r.get("rule"), r.get("story_id")) for r in records)
    lines = [json.loads(line) for line in alert_log.read_text().splitlines() if line.strip()] \
        if alert_log.exists() else []
    delivered = Counter(str(line.get("id") or line.get("alert_id") or json.dumps(line, sort_keys=True))
                        for line in lines)
    return {"records": len(records), "distinct_rule_story": len(pairs),
            "repeated": len(records) - len(pairs), "delivered_lines": len(lines),
            "distinct_delivered": len(delivered), "repeated_deliveries": len(lines) - len(delivered)}
