"""`newsflow search QUERY`: search the indexed articles, with facets; `--json` per the contract."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsflow.core.durations import parse_duration
from newsflow.core.es import make_client
from newsflow.core.settings import load_settings
from newsflow.index.search import (
    FACETS,
    SearchHit,
    SearchResult,
    parse_filter,
    search_articles,
)

_EMPHASIS = re.compile(r"<em>(.*?)</em>", re.DOTALL)


@click.command("search")
@click.argument("query")
@click.option("--filter", "-f", "filters", multiple=True, metavar="FIELD=VALUE",
              help="Exact value of a keyword field (repeatable; all must match), e.g. source=BBC.")
@click.option("--since", metavar="DURATION", help="Only articles published within, e.g. 30m, 24h, 7d.")
@click.option("--size", "-n", default=10, show_default=True, type=click.IntRange(0, 10_000),
              help="How many hits to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout (see the contract).")
def command(query: str, filters: tuple[str, ...], since: str | None, size: int, as_json: bool) -> None:
    """Search the articles with a Lucene QUERY ('*' matches all), e.g.

    \b
      newsflow search 'persons:"Vladimir Putin" AND topics:politics' --since 7d
      newsflow search gas --filter source=BBC --json
    """
    pairs = [parse_filter(text) for text in filters]
    window: timedelta | None = parse_duration(since, "--since") if since else None
    settings = load_settings()
    client = make_client(settings)
    try:
        result = search_articles(client, settings, query, filters=pairs, since=window, size=size)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print_result(result, Console())


def print_result(result: SearchResult, console: Console) -> None:
    """The human view: a table of hits with highlighted fragments, then the facets."""
    console.print(f"[bold]{result.total}[/bold] article(s) match; showing {len(result.hits)}")
    if result.hits:
        table = Table(show_lines=True, expand=True)
        table.add_column("published", no_wrap=True, style="dim")
        table.add_column("source", style="cyan")
        table.add_column("article", ratio=1)
        table.add_column("score", justify="right", style="dim")
        for hit in result.hits:
            table.add_row(hit.published_at[:16].replace("T", " "), escape(hit.source),
                          _article_cell(hit), f"{hit.score:.2f}")
        console.print(table)
    for name in FACETS:
        values = result.facets.get(name, ())
        if values:
            listed = ", ".join(f"{escape(v.value)} [dim]({v.count})[/dim]" for v in values)
            console.print(f"[bold]{name}[/bold]: {listed}")


def _article_cell(hit: SearchHit) -> str:
    title = _highlighted(hit.highlights["title"][0]) if hit.highlights.get("title") else escape(hit.title)
    lines = [f"[bold]{title}[/bold]", f"[blue]{escape(hit.url)}[/blue]"]
    for field in ("summary", "body"):
        for fragment in hit.highlights.get(field, ())[:1]:
            lines.append(f"… {_highlighted(fragment)} …")
    return "\n".join(lines)


def _highlighted(fragment: str) -> str:
    # Elasticsearch returns the stored text with <em> around matches; show them in rich markup.
    parts = _EMPHASIS.split(fragment)
    return "".join(
        f"[bold yellow]{escape(part)}[/bold yellow]" if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )
