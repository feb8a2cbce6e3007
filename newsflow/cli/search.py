"""`newsflow search QUERY`: search the indexed articles, with facets; `--json` per the contract,
`--format atom` as an Atom feed; `--by-story` one hit per story; `--trends` what trends among the hits."""

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
from newsflow.core.models import utc_now
from newsflow.core.settings import load_settings
from newsflow.index.atom import atom_feed, search_feed_id
from newsflow.index.search import (
    FACETS,
    SearchHit,
    SearchResult,
    parse_filter,
    search_articles,
)
from newsflow.index.trends import TrendsResult, find_trends

_EMPHASIS = re.compile(r"<em>(.*?)</em>", re.DOTALL)


@click.command("search")
@click.argument("query")
@click.option("--filter", "-f", "filters", multiple=True, metavar="FIELD=VALUE",
              help="Exact value of a keyword field (repeatable; all must match), e.g. source=BBC.")
@click.option("--since", metavar="DURATION", help="Only articles published within, e.g. 30m, 24h, 7d.")
@click.option("--size", "-n", default=10, show_default=True, type=click.IntRange(0, 10_000),
              help="How many hits to show.")
@click.option("--by-story", is_flag=True,
              help="One hit per story (its best matching copy) with the number of matching copies.")
@click.option("--trends", "with_trends", is_flag=True,
              help="Also the trending persons, organizations, locations and topics among the matches.")
@click.option("--format", "output", type=click.Choice(["table", "json", "atom"]), default="table",
              show_default=True, help="table for people, json (= --json) or an Atom 1.0 feed of the hits.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout (see the contract).")
@click.option("--revisions", "in_revisions", is_flag=True,
              help="Search the earlier versions of edited articles (<prefix>-revisions) instead.")
def command(query: str, filters: tuple[str, ...], since: str | None, size: int, by_story: bool,
            with_trends: bool, output: str, as_json: bool, in_revisions: bool) -> None:
    """Search the articles with a Lucene QUERY ('*' matches all), e.g.

    \b
      newsflow search 'persons:"Vladimir Putin" AND topics:politics' --since 7d
      newsflow search gas --filter source=BBC --json
      newsflow search 'topics:energy' --since 24h --by-story --trends
      newsflow search 'organizations:Gazprom' --format atom > gazprom.atom
      newsflow search --revisions 'title:"no one was hurt"' --json
    """
    output = "json" if as_json else output
    if in_revisions:
        _search_revisions(query, size, output)
        return
    pairs = [parse_filter(text) for text in filters]
    window = parse_window(since) if since else None
    settings = load_settings()
    client = make_client(settings)
    trends: TrendsResult | None = None
    try:
        result = search_articles(client, settings, query, filters=pairs, since=window, size=size,
                                 by_story=by_story)
        if with_trends and output != "atom":
            trends = find_trends(client, settings, query=query, filters=pairs, window=window)
    finally:
        client.close()
    if output == "atom":
        feed_id = search_feed_id(settings.index_prefix, query, pairs, since or "", by_story)
        click.echo(atom_feed(result.hits, title=f"newsflow: {query}", feed_id=feed_id, now=utc_now(),
                             subtitle=_describe(query, filters, since, by_story)), nl=False)
    elif output == "json":
        data = result.to_json()
        if trends is not None:
            data["trends"] = trends.to_json()
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        console = Console()
        print_result(result, console)
        if trends is not None:
            from newsflow.cli.trends import print_trends

            print_trends(trends, console)


def _search_revisions(query: str, size: int, output: str) -> None:
    """`--revisions`: the earlier versions of articles matching QUERY, newest replaced first."""
    from newsflow.index.revisions import search_revisions

    if output == "atom":
        raise click.UsageError("--revisions gives a table or JSON, not an Atom feed")
    settings = load_settings()
    with make_client(settings) as client:
        total, revisions = search_revisions(client, settings, query, size=size)
    if output == "json":
        click.echo(json.dumps({"total": total, "revisions": [
            {"id": r.id, "article_id": r.article_id, "revision": r.number, "title": r.title,
             "url": r.url, "source": r.source, "ingested_at": r.ingested_at,
             "replaced_at": r.replaced_at} for r in revisions]}, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{total}[/bold] revision(s) match; showing {len(revisions)}")
    for r in revisions:
        console.print(f"[dim]{r.replaced_at[:16].replace('T', ' ')}[/dim]  [cyan]{escape(r.source)}[/cyan]  "
                      f"revision {r.number}: [bold]{escape(r.title)}[/bold]\n   [blue]{escape(r.url)}[/blue]")


def parse_window(text: str) -> timedelta:
    """A --since/--background DURATION ("30m", "24h", "7d"): the one place the CLI parses durations."""
    return parse_duration(text, "--since")


def _describe(query: str, filters: tuple[str, ...], since: str | None, by_story: bool) -> str:
    parts = [f"search {query!r}"] + [f"filter {text}" for text in filters]
    if since:
        parts.append(f"published within {since}")
    if by_story:
        parts.append("one article per story")
    return ", ".join(parts)


def print_result(result: SearchResult, console: Console) -> None:
    """The human view: a table of hits with highlighted fragments, then the facets."""
    if result.stories is None:
        console.print(f"[bold]{result.total}[/bold] article(s) match; showing {len(result.hits)}")
    else:
        console.print(f"[bold]{result.total}[/bold] article(s) in [bold]{result.stories}[/bold] "
                      f"stories match; showing {len(result.hits)} stories")
    if result.hits:
        table = Table(show_lines=True, expand=True)
        table.add_column("published", no_wrap=True, style="dim")
        table.add_column("source", style="cyan")
        table.add_column("article", ratio=1)
        table.add_column("score", justify="right", style="dim")
        for hit in result.hits:
            copies = f"\n[dim]{hit.copies} copies[/dim]" if hit.copies is not None and hit.copies > 1 else ""
            table.add_row(hit.published_at[:16].replace("T", " "), escape(hit.source) + copies,
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
