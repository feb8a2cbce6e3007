"""`newsflow trends`: the persons, organizations, locations and topics unusually frequent among the
articles of a recent window, against a background (the whole index or a longer window)."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsflow.cli.search import parse_window
from newsflow.core.es import make_client
from newsflow.core.settings import load_settings
from newsflow.index.search import parse_filter
from newsflow.index.trends import (
    DEFAULT_MIN_COUNT,
    DEFAULT_SIZE,
    DEFAULT_STORIES,
    MAX_SIZE,
    TREND_FIELDS,
    TrendsResult,
    find_trends,
)


@click.command("trends")
@click.option("--since", default="24h", show_default=True, metavar="DURATION",
              help="The window: articles published within, e.g. 6h, 24h, 7d.")
@click.option("--background", default="all", show_default=True, metavar="DURATION|all",
              help="What the window is compared with: articles published within a longer DURATION, "
                   "or all of the index.")
@click.option("--field", "fields", multiple=True, type=click.Choice(TREND_FIELDS),
              help="Which field (repeatable); all four by default.")
@click.option("--query", default="*", show_default=True, help="Only articles matching this Lucene query.")
@click.option("--filter", "-f", "filters", multiple=True, metavar="FIELD=VALUE",
              help="Exact value of a keyword field (repeatable), as in `newsflow search`.")
@click.option("--size", "-n", default=DEFAULT_SIZE, show_default=True, type=click.IntRange(1, MAX_SIZE),
              help="Trending values per field.")
@click.option("--stories", default=DEFAULT_STORIES, show_default=True, type=click.IntRange(0, MAX_SIZE),
              help="Top stories shown per value.")
@click.option("--min-count", default=DEFAULT_MIN_COUNT, show_default=True, type=click.IntRange(1),
              help="A value trends only when at least this many articles of the window name it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def command(since: str, background: str, fields: tuple[str, ...], query: str, filters: tuple[str, ...],
            size: int, stories: int, min_count: int, as_json: bool) -> None:
    """What is trending: values of the entity and topic fields much commoner in the window than in
    the background (Elasticsearch significant_terms), each with its top stories, e.g.

    \b
      newsflow trends
      newsflow trends --since 6h --background 7d --field persons --json
      newsflow trends --query 'topics:energy' --field organizations
    """
    window = parse_window(since)
    longer = None if background.strip().lower() == "all" else parse_window(background)
    pairs = [parse_filter(text) for text in filters]
    settings = load_settings()
    client = make_client(settings)
    try:
        result = find_trends(client, settings, fields=fields or TREND_FIELDS, window=window,
                             background=longer, query=query, filters=pairs, size=size, stories=stories,
                             min_count=min_count)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print_trends(result, Console())


def print_trends(result: TrendsResult, console: Console) -> None:
    """The human view: per field, a table of trending values with counts and top stories."""
    since = f"since {result.window_start[:16].replace('T', ' ')}" if result.window_start else "at any time"
    against = (f"published since {result.background_start[:16].replace('T', ' ')}"
               if result.background_start else "in the whole index")
    console.print(f"[bold]trending[/bold] among {result.articles} article(s) published {since}, against "
                  f"{result.background_articles} {against}")
    for name, trends in result.fields.items():
        if not trends:
            console.print(f"[bold]{name}[/bold]: nothing unusual")
            continue
        table = Table(title=name, title_justify="left", show_lines=True, expand=True)
        table.add_column(name, style="bold")
        table.add_column("articles", justify="right")
        table.add_column("background", justify="right", style="dim")
        table.add_column("stories", justify="right")
        table.add_column("score", justify="right", style="dim")
        table.add_column("top stories", ratio=1)
        for trend in trends:
            top = "\n".join(
                f"• {escape(s.title)} [dim]({escape(s.source)}"
                + (f", {s.copies} copies" if s.copies > 1 else "") + f"; story {escape(s.story_id)})[/dim]"
                for s in trend.top_stories
            )
            table.add_row(escape(trend.value), str(trend.count), str(trend.background_count),
                          str(trend.stories), f"{trend.score:.2f}", top)
        console.print(table)
