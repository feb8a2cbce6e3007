"""`newsflow rig es-up|es-down|es-status|drill-es`: the three-node Elasticsearch cluster of the local
scale-out rig (newsflow.dev.es_cluster) and its drill (newsflow.dev.drill).

The Celery half of the rig (`newsflow rig up|down|status|drill`) lives in newsflow.cli.rig_celery;
when that module is present its commands join this group, so both halves share `newsflow rig`.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

import click

from newsflow.core.settings import load_settings
from newsflow.dev.es_cluster import DEFAULT_HEAP, DEFAULT_HTTP_BASE, DEFAULT_NODES, ClusterStatus, EsCluster


@click.group("rig")
def command() -> None:
    """The local scale-out rig: a three-node Elasticsearch cluster (es-up, es-down, es-status)
    and its failure drill (drill-es).

    The cluster `newsflow-rig` runs from the Elasticsearch that `newsflow stack` installs, one
    folder per node under $NEWSFLOW_HOME/rig/es-<i>/, HTTP on 127.0.0.1:9281-9283 (transport
    9381-9383), 512 MB heap per node. Point newsflow at it with NEWSFLOW_ES_URL=http://127.0.0.1:9281;
    with the default `index.replicas: auto` every new index gets one replica there.

    The Celery half (up, down, status, drill) runs the project's DAGs on the CeleryExecutor: Redis
    as the broker, PostgreSQL, the Airflow components and two Celery workers, and drills the
    SIGKILL of a worker mid-run. See docs/airflow.md, "Scaling out".
    """


def _cluster_options(function: Any) -> Any:
    function = click.option("--nodes", type=click.IntRange(1, 9), default=DEFAULT_NODES, show_default=True,
                            help="Number of nodes.")(function)
    function = click.option("--http-base", type=click.IntRange(1024, 65000), default=DEFAULT_HTTP_BASE,
                            show_default=True,
                            help="HTTP port of node 0; node i listens on base+i, transport on "
                                 "base+100+i.")(function)
    return click.option("--heap", default=DEFAULT_HEAP, show_default=True,
                        help="JVM heap of each node.")(function)


def _cluster(nodes: int, http_base: int, heap: str) -> EsCluster:
    return EsCluster(load_settings(), nodes=nodes, http_base=http_base, heap=heap,
                     say=lambda message: click.echo(message, err=True))


def _print(status: ClusterStatus, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(status.to_json()))
        return
    colour = {"green": "green", "yellow": "yellow"}.get(status.cluster_status, "red")
    click.echo(f"rig cluster: {click.style(status.cluster_status, fg=colour)} ({status.detail})")
    for node in status.nodes:
        state = "up" if node.reachable else "down"
        click.echo(f"  {node.name} {node.url} {state}" + (f", pid {node.pid}" if node.pid else ""))


@command.command("es-up")
@_cluster_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def es_up(nodes: int, http_base: int, heap: str, as_json: bool) -> None:
    """Start the rig's Elasticsearch nodes (those not running) and wait until the cluster is
    yellow or green with every node joined. Idempotent."""
    _print(_cluster(nodes, http_base, heap).up(), as_json)


@command.command("es-down")
@_cluster_options
def es_down(nodes: int, http_base: int, heap: str) -> None:
    """Stop the rig's Elasticsearch nodes, each by its PID."""
    if not _cluster(nodes, http_base, heap).down():
        click.echo("no rig node is running (no live pid file)")


@command.command("es-status")
@_cluster_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def es_status(nodes: int, http_base: int, heap: str, as_json: bool) -> None:
    """Health of the rig cluster and of each node. Exit status 1 when it is not yellow or green."""
    status = _cluster(nodes, http_base, heap).status()
    _print(status, as_json)
    if status.cluster_status not in ("green", "yellow"):
        raise SystemExit(1)


@command.command("drill-es")
@_cluster_options
@click.option("--feeds", type=click.IntRange(1), default=248, show_default=True,
              help="News feeds of the shared corpus to serve and ingest.")
@click.option("--client-on", type=click.Choice(["primary", "other"]), default="primary", show_default=True,
              help="The node the cycle talks to: the one that is stopped (the rest of the cycle "
                   "spools on disk) or one that stays up (the replica is promoted).")
@click.option("--keep", is_flag=True, help="Keep the drill's indices and folder afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print only the JSON object.")
def drill_es(nodes: int, http_base: int, heap: str, feeds: int, client_on: str, keep: bool,
             as_json: bool) -> None:
    """Drill: a full cycle over N corpus feeds while the node holding the articles primary is
    stopped mid-cycle; the node comes back, a second cycle drains the spool; then count lost,
    duplicated and repeated alerts, the spool, and the time back to green. Brings the cluster up
    if needed and leaves it running. Exit status 1 when a count is not zero."""
    from newsflow.dev.drill import DrillOptions, run_drill, summary

    # The drill stops a node on purpose: the client's per-request connection tracebacks are noise.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    settings = load_settings()
    cluster = _cluster(nodes, http_base, heap)
    figures = run_drill(settings, cluster, DrillOptions(feeds=feeds, keep=keep, client_on=client_on),
                        say=lambda message: click.echo(message, err=True))
    click.echo(json.dumps(figures))
    if not as_json:
        click.echo(summary(figures))
    if not figures["ok"]:
        raise SystemExit(1)


def _join_celery_half() -> None:
    """Share `newsflow rig` with the Celery half (newsflow.cli.rig_celery), when present: each
    group gets the other's commands, so whichever of the two the top-level group registers last,
    both halves are there."""
    try:
        other = importlib.import_module("newsflow.cli.rig_celery").command
    except ModuleNotFoundError:
        return
    if isinstance(other, click.Group) and other is not command:
        for name, sub in other.commands.items():
            command.commands.setdefault(name, sub)
        for name, sub in command.commands.items():
            other.commands.setdefault(name, sub)


_join_celery_half()
