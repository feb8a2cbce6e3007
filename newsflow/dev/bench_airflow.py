"""The scheduled path against the CLI (`newsflow bench --airflow`): one run, figures as JSON.

On the same machine, corpus subset and local Elasticsearch, each under a fresh index prefix and
home of its own (so both are cold):

1. the CLI cycle: `newsflow run` in a fresh process over the feeds (as `newsflow bench` times it);
2. the same feeds through one triggered `news_ingest` run on a local Airflow of the benchmark's own
   (scheduler, dag-processor, triggerer, API server, LocalExecutor, its own PostgreSQL cluster on a
   Unix socket), started after the CLI cycle so that its idle components do not slow the CLI down,
   after an untimed run over no feeds (a long-running scheduler has started tasks before);
3. a no-change DAG run right after: every feed due again (poll_interval 60 s in the feeds file, the
   floor the scheduler allows) and answering 304;
4. for each DAG run, from its task instances' queued/start/end times (REST API): the time spent
   waiting in the queue, the gaps in which no task of the run was running (scheduler latency between
   plan, the mapped shards and alerts), and each shard's start-up inside its task (task duration
   minus the shard's own pipeline seconds).

Everything it starts (Airflow components, PostgreSQL, the feed server) is stopped by PID at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsflow.core.settings import Settings
from newsflow.dev.bench import (
    DEFAULT_CORPUS,
    BenchOptions,
    elasticsearch_uptime_seconds,
    run_cycle_subprocess,
    select_feed_files,
    serve_directory,
    unpacked_feeds,
    wait_until_quiet,
)
from newsflow.index.cleanup import delete_prefix

DEFAULT_FEEDS = 30  # a few minutes on this 2-core machine, Airflow's start-up included
NO_CHANGE_GOAL_SECONDS = 20.0  # a no-change scheduled run must fit well inside a 1-minute schedule
RATIO_GOAL = 1.3  # the cold corpus through Airflow within 1.3x of the CLI cycle
FEED_POLL_INTERVAL = 60  # seconds, in the feeds file: the floor, so the no-change run finds them due


@dataclass(frozen=True, slots=True)
class AirflowBenchOptions:
    corpus: Path = DEFAULT_CORPUS
    news_only: bool = True
    feeds: int = DEFAULT_FEEDS
    rules: int = 1000  # saved rules under each prefix (the CLI benchmark's default)
    shard_size: int | None = None  # NEWSFLOW_INGEST_SHARD_SIZE for the DAG (None: the DAG's default)
    output: Path | None = None
    keep_indices: bool = False
    warm_up: bool = True  # an untimed DAG run over no feeds first: the executor's first-task cost


@dataclass(frozen=True, slots=True)
class TaskTiming:
    """One task instance of a DAG run, as the metadata database recorded it."""

    task_id: str
    map_index: int
    state: str
    queued: datetime | None
    started: datetime | None
    ended: datetime | None

    @classmethod
    def from_api(cls, row: Mapping[str, Any]) -> TaskTiming:
        return cls(str(row["task_id"]), int(row.get("map_index") if row.get("map_index") is not None else -1),
                   str(row.get("state")), _time(row.get("queued_when")), _time(row.get("start_date")),
                   _time(row.get("end_date")))


_NEVER = datetime.max.replace(tzinfo=UTC)


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def run_overhead(run_queued: datetime, run_ended: datetime, tasks: Sequence[TaskTiming],
                 pipeline_seconds: Mapping[int, float] | None = None) -> dict[str, Any]:
    """Where a DAG run's wall time went, from its task instances' times. Pure.

    - `queue_wait_seconds`: the sum over task instances of (start - queued), and its longest;
    - `idle_gap_seconds`: time between the run's queueing and its end in which no task of the run
      was running: the scheduler creating and starting the run, noticing a finished task and
      queueing the next ones, the executor picking them up; `scheduling_share` is its share;
    - `shard_startup_seconds`: per mapped shard, its task's duration minus the pipeline's own
      seconds (`pipeline_seconds`, from the shard's report): the task runner, imports, settings and
      the Elasticsearch client before the first feed (the model load is inside the pipeline);
    - `scheduling_and_startup_share`: idle gaps plus the longest shard start-up (the shards run in
      parallel, so only one start-up is on the critical path) over the total.
    """
    total = (run_ended - run_queued).total_seconds()
    waits = [(t.started - t.queued).total_seconds() for t in tasks if t.started and t.queued]
    intervals = sorted((max(t.started, run_queued), min(t.ended, run_ended))
                       for t in tasks if t.started and t.ended and t.ended > t.started)
    busy = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in intervals:
        if current is None or start > current[1]:
            if current is not None:
                busy += (current[1] - current[0]).total_seconds()
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        busy += (current[1] - current[0]).total_seconds()
    gaps = max(0.0, total - busy)
    startups = {}
    for task in tasks:
        if pipeline_seconds and task.map_index in pipeline_seconds and task.started and task.ended:
            duration = (task.ended - task.started).total_seconds()
            startups[task.map_index] = max(0.0, duration - pipeline_seconds[task.map_index])
    longest_startup = max(startups.values(), default=0.0)
    return {
        "total_seconds": round(total, 3),
        "tasks": [{"task_id": t.task_id, "map_index": t.map_index, "state": t.state,
                   "queue_wait_seconds": _seconds(t.queued, t.started),
                   "duration_seconds": _seconds(t.started, t.ended),
                   "started_after_run_queued_seconds": _seconds(run_queued, t.started)} for t in tasks],
        "queue_wait_seconds": round(sum(waits), 3),
        "longest_queue_wait_seconds": round(max(waits, default=0.0), 3),
        "busy_seconds": round(busy, 3),
        "idle_gap_seconds": round(gaps, 3),
        "scheduling_share": round(gaps / total, 4) if total > 0 else None,
        "shard_startup_seconds": {str(k): round(v, 3) for k, v in sorted(startups.items())},
        "scheduling_and_startup_share": round((gaps + longest_startup) / total, 4) if total > 0 else None,
    }


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def airflow_report(ratio: float, no_change_seconds: float) -> dict[str, bool]:
    """The issue's two goals for the scheduled path. Pure."""
    return {f"airflow_within_{RATIO_GOAL}x_cli": ratio <= RATIO_GOAL,
            f"no_change_run_under_{NO_CHANGE_GOAL_SECONDS:.0f}s": no_change_seconds < NO_CHANGE_GOAL_SECONDS}


def run_airflow_bench(options: AirflowBenchOptions, settings: Settings,
                      say: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
                      ) -> dict[str, Any]:
    from newsflow.app.indices import ensure_all
    from newsflow.core.es import make_client
    from newsflow.dev.bench import parsed_articles
    from newsflow.dev.bench_alerts import create_rules
    from newsflow.dev.local_airflow import LocalAirflow, default_parallelism

    files = select_feed_files(BenchOptions(corpus=options.corpus, news_only=options.news_only,
                                           max_feeds=options.feeds))
    if not files:
        raise FileNotFoundError(f"no feed files under {options.corpus}")
    run_id = uuid.uuid4().hex[:6]
    cli_prefix, airflow_prefix = f"benchcli{run_id}", f"benchaf{run_id}"
    client = make_client(settings)
    results: dict[str, Any] = {
        "corpus": str(options.corpus), "feeds": len(files), "cores": os.cpu_count(),
        "index_prefixes": {"cli": cli_prefix, "airflow": airflow_prefix},
        "elasticsearch_uptime_seconds": round(elasticsearch_uptime_seconds(client)),
        "airflow_parallelism": default_parallelism(), "rules": options.rules,
        "load_average_at_start": list(os.getloadavg()),
    }
    # Not under /tmp's 0700 mkdtemp alone: as root PostgreSQL runs as another user, which must be
    # able to reach its cluster folder under the scratch folder.
    scratch = Path(tempfile.mkdtemp(prefix="nf-afbench-"))
    scratch.chmod(0o755)
    airflow: LocalAirflow | None = None
    try:
        served = scratch / "feeds"
        served_files = unpacked_feeds(files, served)
        vocabulary = parsed_articles(served_files)
        common_env = {
            "NEWSFLOW_ES_URL": settings.es_url,
            "NEWSFLOW_FETCH__POLITENESS_DELAY": "0",  # every feed on one loopback host, as in `bench`
            # The feed server listens on 127.0.0.1, which the address policy refuses by default.
            "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
            "NEWSFLOW_FETCH__PER_HOST_CONCURRENCY": "8",
        }
        with serve_directory(served) as base_url:
            feeds_file = scratch / "feeds.yaml"
            feeds_file.write_text("feeds:\n" + "".join(
                f"  - url: {base_url}/{p.name}\n    poll_interval: {FEED_POLL_INTERVAL}\n"
                for p in served_files))
            prefixes = {"cli": cli_prefix, "airflow": airflow_prefix}
            for name, prefix in prefixes.items():
                other = settings.model_copy(update={"index_prefix": prefix})
                ensure_all(client, other)
                create_rules(client, other, options.rules, vocabulary,
                             channel=f"log:{scratch / f'alerts-{name}.jsonl'}")

            wait_until_quiet(client)
            say(f"CLI cycle over {len(served_files)} feeds (prefix {cli_prefix})")
            cli_home = scratch / "home-cli"
            cli_home.mkdir()
            cli = run_cycle_subprocess(feeds_file, {**common_env, "NEWSFLOW_HOME": str(cli_home),
                                                    "NEWSFLOW_INDEX_PREFIX": cli_prefix}, client)

            airflow_home = scratch / "home-af"
            airflow_home.mkdir()
            airflow_env = {**common_env, "NEWSFLOW_INGEST_SCHEDULE": "none"}
            if options.shard_size:
                airflow_env["NEWSFLOW_INGEST_SHARD_SIZE"] = str(options.shard_size)
            airflow = LocalAirflow(
                settings.model_copy(update={"index_prefix": airflow_prefix, "home": airflow_home}),
                say=say, extra_env=airflow_env)
            say("starting a local Airflow of the benchmark's own (PostgreSQL, LocalExecutor)")
            started = time.perf_counter()
            airflow.up()
            results["airflow_start_seconds"] = round(time.perf_counter() - started, 1)
            if options.warm_up:
                # The first run after the scheduler starts paid 8 s more in its first task (plan:
                # 8.8 s against 0.9 s in the next run) for the executor's first task start; a
                # scheduler that runs news_ingest every minute pays that once, not per run.
                say("an untimed warm-up run of news_ingest over no feeds (plan, no shards, alerts)")
                empty_feeds = scratch / "feeds-empty.yaml"
                empty_feeds.write_text("feeds: []\n")
                warm_up = _timed_dag_run(airflow, empty_feeds, client)
                results["airflow_warm_up_run"] = {
                    "wall_seconds": warm_up["wall_seconds"], "state": warm_up["state"],
                    "tasks": warm_up["overhead"]["tasks"]}
            wait_until_quiet(client)

            say(f"news_ingest over the same feeds (prefix {airflow_prefix})")
            cold = _timed_dag_run(airflow, feeds_file, client)
            # The feeds are due again FEED_POLL_INTERVAL s after their poll: wait for that, not longer.
            due_at = cold["finished_monotonic"] + FEED_POLL_INTERVAL + 2
            say(f"waiting {max(0.0, due_at - time.monotonic()):.0f} s until the feeds are due again")
            while time.monotonic() < due_at:
                time.sleep(1.0)
            say("news_ingest again, nothing changed (every feed due, answering 304)")
            warm = _timed_dag_run(airflow, feeds_file, client)
    finally:
        if airflow is not None:
            say("stopping the benchmark's Airflow and PostgreSQL")
            airflow.down()
        if not options.keep_indices:
            for prefix in (cli_prefix, airflow_prefix):
                delete_prefix(client, prefix)
        client.close()
        shutil.rmtree(scratch, ignore_errors=True)

    for run in (cold, warm):
        run.pop("finished_monotonic")
    ratio = cold["wall_seconds"] / cli["seconds"]
    results.update({
        "cli_cycle": {"seconds": round(cli["seconds"], 2), "report": cli["report"],
                      "cpu_seconds": {k: round(v, 2) for k, v in cli["cpu_seconds"].items()},
                      "peak_pss_mb": round(cli["peak_pss_bytes"] / 2**20, 1)},
        "airflow_cold_run": cold,
        "airflow_no_change_run": warm,
        "ratios": {
            "airflow_over_cli": round(ratio, 3),
            # The run as the metadata database saw it (queued → end), without the trigger's polling.
            "airflow_db_over_cli": round(cold["overhead"]["total_seconds"] / cli["seconds"], 3),
            "no_change_over_cold": round(warm["wall_seconds"] / cold["wall_seconds"], 4),
        },
    })
    results["goals"] = airflow_report(ratio, warm["wall_seconds"])
    if options.output is not None:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _timed_dag_run(airflow: Any, feeds_file: Path, client: Any) -> dict[str, Any]:
    """Trigger news_ingest, wait for it; its wall time (trigger to seen finished, polled every
    0.5 s), the task instances' times and each shard's report from XCom."""
    import httpx

    from newsflow.core.errors import LocalAirflowError
    from newsflow.dev.bench import elasticsearch_cpu_seconds

    es_before = elasticsearch_cpu_seconds(client)
    with httpx.Client(base_url=airflow.url, timeout=30.0,
                      headers={"Authorization": f"Bearer {airflow.token()}"}) as api:
        airflow._wait_for_dag(api, "news_ingest", timeout=120.0)
        api.patch("/api/v2/dags/news_ingest", json={"is_paused": False}).raise_for_status()
        started = time.perf_counter()
        response = api.post("/api/v2/dags/news_ingest/dagRuns",
                            json={"logical_date": None, "conf": {"feeds_file": str(feeds_file)}})
        response.raise_for_status()
        run_id = response.json()["dag_run_id"]
        deadline = time.monotonic() + 1800
        while True:
            try:
                run = api.get(f"/api/v2/dags/news_ingest/dagRuns/{run_id}").json()
            except httpx.TransportError:
                run = {"state": "running"}  # a busy API server missed one poll; the run goes on
            if run.get("state") in ("success", "failed"):
                break
            if time.monotonic() > deadline:
                raise LocalAirflowError(f"news_ingest run {run_id} did not finish in 30 min")
            time.sleep(0.5)
        wall = time.perf_counter() - started
        finished = time.monotonic()
        rows = api.get(f"/api/v2/dags/news_ingest/dagRuns/{run_id}/taskInstances",
                       params={"limit": 1000}).json()["task_instances"]
        tasks = sorted((TaskTiming.from_api(row) for row in rows),
                       key=lambda t: ((t.queued or t.started or _NEVER).timestamp(), t.map_index))
        reports: dict[int, dict[str, Any]] = {}
        for task in tasks:
            if task.task_id == "ingest_shard" and task.state == "success":
                reports[task.map_index] = _xcom(api, run_id, "ingest_shard", task.map_index)
        alerts = _xcom(api, run_id, "alerts", -1)
    overhead = run_overhead(
        _time(run["queued_at"]) or _time(run["start_date"]), _time(run["end_date"]), tasks,
        {index: float(report.get("seconds") or 0.0) for index, report in reports.items()})
    return {
        "run_id": run_id, "state": run["state"], "wall_seconds": round(wall, 2),
        "elasticsearch_cpu_seconds": round(elasticsearch_cpu_seconds(client) - es_before, 2),
        "shards": len(reports), "totals": shard_totals(reports.values()),
        "shard_reports": {str(k): v for k, v in sorted(reports.items())}, "alerts": alerts,
        "overhead": overhead, "finished_monotonic": finished,
    }


def shard_totals(reports: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The shards' counts added up (nested counts such as `articles` by kind and the alerts each
    shard matched and delivered too). Pure."""
    totals: dict[str, Any] = {}
    for report in reports:
        for key in ("feeds", "articles", "indexed", "dead_lettered", "alerts"):
            value = report.get(key)
            if isinstance(value, Mapping):
                inner = totals.setdefault(key, {})
                for name, count in value.items():
                    if isinstance(count, int | float):
                        inner[name] = inner.get(name, 0) + count
            elif isinstance(value, int | float):
                totals[key] = totals.get(key, 0) + value
    return totals


def _xcom(api: Any, run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    response = api.get(f"/api/v2/dags/news_ingest/dagRuns/{run_id}/taskInstances/{task_id}"
                       "/xcomEntries/return_value", params={"map_index": map_index, "deserialize": True})
    if response.status_code != 200:
        return {"error": f"{response.status_code} {response.text[:200]}"}
    value = response.json().get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"value": value}
    return value if isinstance(value, dict) else {"value": value}
