"""`newsflow airflow up|down|status|trigger`: a real local Airflow running the project's DAGs."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from newsflow.core.settings import load_settings
from newsflow.dev.local_airflow import ADMIN_USER, AirflowStatus, LocalAirflow


def _airflow(port: int | None = None, schedule: str | None = None) -> LocalAirflow:
    return LocalAirflow(load_settings(), port=port, schedule=schedule,
                        say=lambda message: click.echo(message, err=True))


def _print(airflow: LocalAirflow, status: AirflowStatus, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"url": status.url, "healthy": status.healthy, "pids": status.pids,
                               "components": status.components, "detail": status.detail,
                               "user": ADMIN_USER, "passwords_file": str(airflow.passwords_file)}))
        return
    state = click.style("healthy" if status.healthy else "not healthy",
                        fg="green" if status.healthy else "red")
    click.echo(f"Airflow at {status.url}: {state}{' (' + status.detail + ')' if status.detail else ''}")
    for name, pid in status.pids.items():
        click.echo(f"  {name:<14} {'pid ' + str(pid) if pid else 'not running'}")
    for key, value in status.components.items():
        click.echo(f"  health {key:<14} {value}")
    click.echo(f"  login: {ADMIN_USER}, password in {airflow.passwords_file}")
    click.echo(f"  feed health page: {status.url}/newsflow/ (menu Browse → Newsflow feeds & alerts)")


@click.group("airflow")
def command() -> None:
    """A local Airflow 3 (PostgreSQL, LocalExecutor, 127.0.0.1 only) running the project's DAGs.

    It lives under $NEWSFLOW_HOME/airflow; its components (api-server, scheduler, dag-processor,
    triggerer) run as separate processes with their log servers off, its PostgreSQL cluster listens
    on a Unix socket only, and all of them are stopped by PID.
    """


@command.command("up")
@click.option("--port", type=int, default=None, help="API server port (default 8080, or a free one).")
@click.option("--schedule", default=None,
              help="news_ingest schedule for this instance (e.g. 1m, @hourly); default: "
                   "NEWSFLOW_INGEST_SCHEDULE, else only triggered runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def up(port: int | None, schedule: str | None, as_json: bool) -> None:
    """Start PostgreSQL (created on first use), migrate the metadata database, start every
    component, wait until healthy. Idempotent."""
    airflow = _airflow(port, schedule)
    _print(airflow, airflow.up(), as_json)


@command.command("down")
def down() -> None:
    """Stop every component by its PID (SIGTERM, then SIGKILL after 30 s), then PostgreSQL."""
    if not _airflow().down():
        click.echo("Airflow is not running (no live pid files)")


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Health of each component; exit status 0 only when all are healthy."""
    airflow = _airflow()
    current = airflow.status()
    _print(airflow, current, as_json)
    sys.exit(0 if current.healthy else 1)


@command.command("env")
def env() -> None:
    """Print `export` lines for using the `airflow` CLI on the local instance, e.g.
    `eval "$(newsflow airflow env)"; airflow dags test news_ingest -c '{"feeds_file": "..."}'`."""
    for name, value in sorted(_airflow().shell_environment().items()):
        click.echo(f"export {name}={shlex.quote(value)}")


@command.command("trigger")
@click.option("--feeds", "feeds_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Feeds file for this run (the DAG param feeds_file).")
@click.option("--dag", "dag_id", default="news_ingest", show_default=True, help="The DAG to run.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until the run finishes.")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds to wait.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def trigger(feeds_file: Path | None, dag_id: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Trigger a run through the REST API (unpausing the DAG); exit 1 if the run failed."""
    conf = {"feeds_file": str(feeds_file.resolve())} if feeds_file else {}
    result = _airflow().trigger(dag_id, conf, wait=wait, timeout=timeout)
    if as_json:
        click.echo(json.dumps({"dag_id": result.dag_id, "run_id": result.run_id, "state": result.state,
                               "url": result.url}))
    else:
        colour = {"success": "green", "failed": "red"}.get(result.state, "yellow")
        click.echo(f"{result.dag_id} run {result.run_id}: {click.style(result.state, fg=colour)}")
        click.echo(f"  {result.url}")
    sys.exit(1 if result.state == "failed" else 0)
