"""`newsflow run`: one full cycle, with progress bars on stderr and a summary (or JSON) on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from newsflow.app.cycle import run_cycle
from newsflow.app.report import CycleReport
from newsflow.core.errors import ConfigError
from newsflow.core.settings import load_settings

STAGE_LABELS = {"fetch": "fetching feeds", "enrich": "enriching articles", "index": "indexing",
                "alerts": "matching alerts"}


class ProgressBars:
    """A CycleObserver that draws one bar per stage on stderr (nothing when stderr is not a terminal)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, disable=not console.is_terminal, transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def stage(self, name: str, total: int | None = None) -> None:
        self.tasks[name] = self.progress.add_task(STAGE_LABELS.get(name, name), total=total)

    def advance(self, name: str, amount: int = 1) -> None:
        if name in self.tasks:
            self.progress.advance(self.tasks[name], amount)

    def __enter__(self) -> ProgressBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@click.command("run")
@click.option("--feeds", "feeds_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Feeds file (YAML or OPML). Default: NEWSFLOW_FEEDS_FILE.")
@click.option("--due", is_flag=True,
              help="Poll only the feeds whose next poll time has come (what scheduled runs use).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see the README) on stdout.")
def command(feeds_file: Path | None, due: bool, as_json: bool) -> None:
    """Run one full cycle: fetch, parse, normalise, dedupe, enrich, index, alert.

    Every feed in the file is polled (or with --due only those that are due). Exit status is 0 when the
    cycle ran, even if some feeds failed (each failure is listed with its reason); when Elasticsearch is
    unreachable the articles are kept in the spool and indexed by the next cycle.
    """
    settings = load_settings()
    path = feeds_file or settings.feeds_file
    if path is None:
        raise ConfigError("no feeds file: pass --feeds FILE or set NEWSFLOW_FEEDS_FILE")
    console = Console(stderr=True)
    with ProgressBars(console) as bars:
        report = run_cycle(settings, path, due_only=due, observer=bars)
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        print_summary(report)


def print_summary(report: CycleReport) -> None:
    out = Console()
    out.print(
        f"[bold]feeds[/]    {report.feeds_total} total: {report.fetched} fetched, "
        f"{report.not_modified} not modified, {report.failed} failed"
    )
    out.print(
        f"[bold]articles[/] {report.new} new, {report.updated} updated, {report.unchanged} unchanged; "
        f"{report.indexed} indexed"
        + (f", {report.dead_lettered} dead-lettered" if report.dead_lettered else "")
        + (f", {report.from_spool} from the spool" if report.from_spool else "")
    )
    if report.spooled:
        out.print(f"[yellow]spool[/]    {report.spooled} article(s) wait on disk for Elasticsearch")
    out.print(
        f"[bold]alerts[/]   {report.alerts.sent} sent, {report.alerts.failed} failed"
        + (f", {report.alerts.deferred} to retry" if report.alerts.deferred else "")
    )
    for delivery in report.alerts.failures:
        out.print(f"[red]  alert failed[/] {delivery}", highlight=False)
    for failure in report.failures:
        out.print(f"[red]  {failure.status}[/] {failure.name or failure.url}: {failure.reason}",
                  markup=True, highlight=False)
    for problem in report.problems:
        out.print(f"[yellow]problem[/]  {problem}", highlight=False)
    out.print(f"[dim]took {report.seconds:.1f} s[/]")
