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

from ingest.feeds import load_feeds
from ingest.state import FeedStateStore
from ingest.types import FeedSpec, FeedState
from newsflow.core.es import make_client
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.redact import redact_text, redact_url
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
    specs = load_feeds(feeds_file) if feeds_file else None
    client = make_client(settings)
    try:
        store = FeedStateStore(client, settings)
        rows: list[tuple[FeedSpec | None, FeedState | None]]
        if specs is None:
            rows = [(None, state) for state in store.load_all()]
        else:
            stored = store.load(spec.key for spec in specs)
            rows = [(spec, stored.get(spec.key)) for spec in specs]
    finally:
        client.close()
    entries = [health(spec, state) for spec, state in rows]
    if as_json:
        click.echo(json.dumps({"feeds": entries}, ensure_ascii=False))
    else:
        print_health(entries, Console())


def health(spec: FeedSpec | None, state: FeedState | None) -> dict[str, Any]:
    """One feed's health as a JSON-ready dict (a feed never polled has status "never").

    URLs are shown redacted (no user or password, no token-like parts): this is a display."""
    url = spec.url if spec else state.url if state else ""
    name = (spec.name if spec else "") or (state.title if state else "")
    if state is None:
        return {"url": redact_url(url), "name": name, "status": "never", "current_url": None,
                "last_success_at": None, "last_fetched_at": None, "consecutive_failures": 0,
                "last_error": None, "next_due_at": None, "gone": False, "items": 0, "articles": 0}
    error = state.last_error or ""
    for address in (url, state.current_url or ""):
        error = redact_text(error, address)
    return {
        "url": redact_url(url), "name": name, "status": state.last_status or "never",
        "current_url": redact_url(state.current_url) if state.current_url else None,
        "last_success_at": _iso(state.last_success_at), "last_fetched_at": _iso(state.last_fetched_at),
        "consecutive_failures": state.consecutive_failures, "last_error": error or None,
        "next_due_at": _iso(state.next_due_at), "gone": state.gone, "items": state.item_count,
        "articles": state.articles_total,
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
    failing = sum(1 for e in entries if e["status"] in ("failed", "gone"))
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
