"""`newsflow feeds`: the health of every feed, from the feed state in Elasticsearch."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingest.types import FeedSpec, FeedState
from newsflow.app.feed_health import FeedHealth, health_of, load_feed_health
from newsflow.core.es import make_client
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.settings import load_settings

_STATUS_STYLE = {"fetched": "green", "not_modified": "green", "failed": "red", "gone": "magenta",
                 "": "dim"}


@click.command("feeds")
@click.option("--feeds", "feeds_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Show the feeds of this file (including never-polled ones) instead of every stored feed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: {\"feeds\": [...]}.")
def command(feeds_file: Path | None, as_json: bool) -> None:
    """Feed health: last status, last success, consecutive failures, last error, next poll, articles."""
    settings = load_settings()
    client = make_client(settings)
    try:
        # In the file's order (or by URL), as listed: not troubled first as on the maintenance report.
        rows = load_feed_health(client, settings, feeds_file, listed_only=True, troubled_first=False)
    finally:
        client.close()
    entries = [entry(row) for row in rows]
    if as_json:
        click.echo(json.dumps({"feeds": entries}, ensure_ascii=False))
    else:
        print_health(entries, Console())


def health(spec: FeedSpec | None, state: FeedState | None) -> dict[str, Any]:
    """One feed's health as the CLI shows it (see `entry`)."""
    return entry(health_of(spec, state))


def entry(row: FeedHealth) -> dict[str, Any]:
    """One feed's health (newsflow.app.feed_health) as a JSON-ready dict: `health` in the model's
    vocabulary, `status` the last poll's outcome ("never" for a feed never polled).

    URLs are shown redacted (no user or password, no token-like parts): this is a display."""
    shown = row.redacted()
    return {
        "url": shown.url, "name": "" if row.name == row.url else shown.name,  # no name: the URL alone
        "health": row.health, "status": row.last_status or "never",
        "current_url": shown.current_url or None,
        "last_success_at": _iso(row.last_success_at), "last_fetched_at": _iso(row.last_fetched_at),
        "consecutive_failures": row.consecutive_failures, "last_error": shown.last_error or None,
        "next_due_at": _iso(row.next_due_at), "gone": row.health == "gone", "items": row.item_count,
        "articles": row.articles_total,
    }


def print_health(entries: list[dict[str, Any]], console: Console) -> None:
    if not entries:
        console.print("No feed has been polled yet: run `newsflow run --feeds FILE`.")
        return
    now = utc_now()
    table = Table(expand=True)
    table.add_column("feed", ratio=3, overflow="fold")
    for column in ("status", "last success", "failures"):
        table.add_column(column, no_wrap=True)
    table.add_column("last error", ratio=2, overflow="fold")
    for column in ("next poll", "articles"):
        table.add_column(column, no_wrap=True)
    for entry in entries:
        style = _STATUS_STYLE.get(entry["status"], "")
        feed = f"[bold]{escape(entry['name'])}[/bold]\n{escape(entry['url'])}" if entry["name"] else \
            escape(entry["url"])
        table.add_row(
            feed, f"[{style}]{entry['status']}[/{style}]" if style else entry["status"],
            _ago(entry["last_success_at"], now), str(entry["consecutive_failures"] or ""),
            escape(entry["last_error"] or ""),
            "never (gone)" if entry["gone"] else _ago(entry["next_due_at"], now),
            str(entry["articles"]),
        )
    console.print(table)
    failing = sum(1 for e in entries if e["health"] in ("failing", "gone"))
    console.print(f"{len(entries)} feed(s), {failing} failing")


def _iso(value: datetime | None) -> str | None:
    return format_utc(value) if value else None


def _ago(value: str | None, now: datetime) -> str:
    if not value:
        return "-"
    when = parse_utc(value)
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    text = (f"{span:.0f}s" if span < 60 else f"{span / 60:.0f}m" if span < 3600
            else f"{span / 3600:.1f}h" if span < 86400 else f"{span / 86400:.1f}d")
    return f"in {text}" if seconds > 0 else f"{text} ago"
