"""`newsflow rig up|down|status|drill`: the scale-out rig on the CeleryExecutor (docs/airflow.md,
"Scaling out: the Celery rig"). Its commands attach to the `rig` group, which this module creates
when no other module defined it first."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from newsflow.core.settings import load_settings
from newsflow.dev.local_airflow import (
    ADMIN_USER,
    DEFAULT_WORKER_CONCURRENCY,
    DEFAULT_WORKERS,
    AirflowStatus,
    LocalAirflow,
)
from newsflow.dev.local_redis import DEFAULT_PORT as REDIS_PORT


@click.group("rig")
def command() -> None:
    """The local cluster rig: the project's DAGs on the CeleryExecutor (Redis broker, PostgreSQL
    metadata database and result backend, scheduler, dag-processor, triggerer, API server and
    Celery workers), all on 127.0.0.1 under $NEWSFLOW_HOME/rig and stopped by PID."""


def rig_airflow(*, port: int | None = None, workers: int = DEFAULT_WORKERS,
                concurrency: int = DEFAULT_WORKER_CONCURRENCY, redis_port: int = REDIS_PORT,
                home: Path | None = None) -> LocalAirflow:
    settings = load_settings()
    return LocalAirflow(settings, port=port, home=home or settings.home / "rig", executor="celery",
                        workers=workers, worker_concurrency=concurrency, redis_port=redis_port,
                        say=lambda message: click.echo(message, err=True))


def _print(airflow: LocalAirflow, status: AirflowStatus, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"url": status.url, "healthy": status.healthy, "pids": status.pids,
                               "components": status.components, "detail": status.detail,
                               "executor": "CeleryExecutor", "workers": airflow.workers,
                               "broker": airflow.redis.public_url if airflow.redis else None}))
        return
    state = click.style("healthy" if status.healthy else "not healthy",
                        fg="green" if status.healthy else "red")
    click.echo(f"Celery rig at {status.url}: {state}{' (' + status.detail + ')' if status.detail else ''}")
    if airflow.redis is not None:
        click.echo(f"  broker         {airflow.redis.public_url} (password in {airflow.redis.password_file})")
    for name, pid in status.pids.items():
        click.echo(f"  {name:<14} {'pid ' + str(pid) if pid else 'not running'}")
    for key, value in status.components.items():
        click.echo(f"  health {key:<14} {value}")
    click.echo(f"  login: {ADMIN_USER}, password in {airflow.passwords_file}")


_workers = click.option("--workers", type=click.IntRange(1, 16), default=DEFAULT_WORKERS, show_default=True,
                        help="Celery workers.")
_concurrency = click.option("--concurrency", type=click.IntRange(1, 16), default=DEFAULT_WORKER_CONCURRENCY,
                            show_default=True, help="Task slots per worker (each shard task ~1 GiB).")
_redis_port = click.option("--redis-port", type=int, default=REDIS_PORT, show_default=True,
                           help="Port of the rig's Redis on 127.0.0.1.")


@command.command("up")
@click.option("--port", type=int, default=None, help="API server port (default 8080, or a free one).")
@_workers
@_concurrency
@_redis_port
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def up(port: int | None, workers: int, concurrency: int, redis_port: int, as_json: bool) -> None:
    """Start Redis, PostgreSQL, the Airflow components and the Celery workers; wait until healthy."""
    airflow = rig_airflow(port=port, workers=workers, concurrency=concurrency, redis_port=redis_port)
    _print(airflow, airflow.up(), as_json)


@command.command("down")
@_workers
@_redis_port
def down(workers: int, redis_port: int) -> None:
    """Stop the workers and components by PID, then Redis and PostgreSQL."""
    if not rig_airflow(workers=workers, redis_port=redis_port).down():
        click.echo("the Celery rig is not running (no live pid files)")


@command.command("status")
@_workers
@_redis_port
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(workers: int, redis_port: int, as_json: bool) -> None:
    """Health of each part; exit status 0 only when all are healthy."""
    airflow = rig_airflow(workers=workers, redis_port=redis_port)
    current = airflow.status()
    _print(airflow, current, as_json)
    sys.exit(0 if current.healthy else 1)


@command.command("drill")
@click.option("--feeds", "feeds", type=click.IntRange(1, 10_000), default=12, show_default=True,
              help="Corpus feeds served on loopback for the run.")
@click.option("--shard-size", type=click.IntRange(1, 1000), default=None,
              help="Feeds per shard task (default: feeds spread over 4 shards).")
@_workers
@_concurrency
@click.option("--redis-port", type=int, default=None, help="Port of the drill's Redis (default: a free one).")
@click.option("--keep-indices", is_flag=True, help="Keep the drill's indices (its own prefix).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the figures as JSON to this file.")
@click.option("--es-cluster", is_flag=True,
              help="The combined drill: run against the rig's three-node Elasticsearch cluster "
                   "(127.0.0.1:9281-9283, started if not running, stopped afterwards if the drill "
                   "started it) and stop the node holding the articles primary when the worker is "
                   "killed; it is started again after the run and the drill waits for green.")
@click.option("--es-client-on", type=click.Choice(["other", "primary"]), default="other", show_default=True,
              help="With --es-cluster, the node the workers talk to: one that stays up (the replica "
                   "is promoted) or the stopped one (the workers spool; a second run drains it).")
def drill(feeds: int, shard_size: int | None, workers: int, concurrency: int, redis_port: int | None,
          keep_indices: bool, output: Path | None, es_cluster: bool, es_client_on: str) -> None:
    """Run news_ingest on a rig of the drill's own, SIGKILL the worker running a shard mid-run, and
    count: expected vs indexed vs distinct articles, alerts, spool, run state, retried tasks.
    With --es-cluster an Elasticsearch data node is stopped at the same moment. Prints the JSON,
    then a summary on stderr. Exit 1 when anything was lost, duplicated or alerted twice."""
    from newsflow.dev.drill_celery import DrillOptions, run_drill, summary

    cluster = None
    if es_cluster:
        import logging

        from newsflow.dev.es_cluster import EsCluster

        # A node is stopped on purpose: the client's per-request connection tracebacks are noise.
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)
        cluster = EsCluster(load_settings(), say=lambda message: click.echo(message, err=True))
    result = run_drill(DrillOptions(feeds=feeds, shard_size=shard_size, workers=workers,
                                    concurrency=concurrency, redis_port=redis_port,
                                    keep_indices=keep_indices, es_client_on=es_client_on),
                       load_settings(), say=lambda message: click.echo(message, err=True), cluster=cluster)
    text = json.dumps(result, indent=2)
    click.echo(text)
    click.echo(summary(result), err=True)
    if output is not None:
        output.write_text(text + "\n")
    sys.exit(0 if result["ok"] else 1)
