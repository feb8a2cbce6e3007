"""`newsflow story STORY_ID`: every copy of one story, first seen first, and what changed between them."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape

from newsflow.core.es import make_client
from newsflow.core.settings import load_settings
from newsflow.index.timeline import Changes, Timeline, TimelineEntry, story_timeline, word_diff

# How much of an added or removed paragraph the human view shows.
_EXCERPT = 200
_CONTEXT = 6  # unchanged words shown either side of a change in a reworded paragraph


@click.command("story")
@click.argument("story_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def command(story_id: str, as_json: bool) -> None:
    """The timeline of a story: its copies in every feed (outlet, feed, credit and distributor, time,
    title), first seen first, with each copy's changes from the one before: title edits, paragraphs
    added, removed or reworded; and each copy's revisions (its earlier versions, replaced when its
    content changed) with what each edit changed. STORY_ID is the `story_id` of a search hit, e.g.

    \b
      newsflow search 'pipeline' --by-story --json | jq -r '.hits[].story_id'
      newsflow story 3f9a0c1e2b7d4a65 --json
    """
    settings = load_settings()
    client = make_client(settings)
    try:
        timeline = story_timeline(client, settings, story_id)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(timeline.to_json(), ensure_ascii=False))
    else:
        print_timeline(timeline, Console())


def print_timeline(timeline: Timeline, console: Console) -> None:
    shown = len(timeline.entries)
    more = f" (the first {shown} shown)" if timeline.total > shown else ""
    edits = sum(len(entry.revisions) for entry in timeline.entries)
    revised = f", {edits} revision(s)" if edits else ""
    console.print(f"[bold]story {escape(timeline.story_id)}[/bold]: {timeline.total} copies{more} from "
                  f"{len(timeline.outlets)} outlet(s): {escape(', '.join(timeline.outlets))}{revised}")
    for number, entry in enumerate(timeline.entries, 1):
        _print_entry(number, entry, console)


def _print_entry(number: int, entry: TimelineEntry, console: Console) -> None:
    copy = entry.copy
    when = copy.published_at[:16].replace("T", " ")
    console.print(f"\n[bold]{number}.[/bold] [dim]{when}[/dim]  [cyan]{escape(copy.source)}[/cyan]  "
                  f"[bold]{escape(copy.title)}[/bold]")
    console.print(f"   [blue]{escape(copy.url)}[/blue]")
    details = [f"feed {copy.feed_url}"]
    if copy.credit:
        details.append("credit " + ", ".join(copy.credit))
    if copy.distributor:
        details.append("distributor " + ", ".join(copy.distributor))
    if copy.ingested_at and copy.ingested_at != copy.published_at:
        details.append("fetched " + copy.ingested_at[:16].replace("T", " "))
    console.print("   [dim]" + escape("; ".join(details)) + "[/dim]")
    if entry.changes is not None:
        _print_changes(entry.changes, "   ", "same title and text as the copy before", console)
    for revision in entry.revisions:  # this copy's own earlier versions, and what each edit changed
        r = revision.revision
        console.print(f"   [magenta]edit {r.number}[/magenta] [dim](version fetched {_when(r.ingested_at)}, "
                      f"replaced {_when(r.replaced_at)})[/dim]: was {escape(r.title)}")
        _print_changes(revision.changes, "     ", "same title and text as the next version", console)


def _when(stamp: str) -> str:
    return stamp[:16].replace("T", " ")


def _print_changes(changes: Changes, indent: str, identical: str, console: Console) -> None:
    if changes.identical:
        console.print(f"{indent}[dim]{identical}[/dim]")
        return
    if changes.title is not None:
        console.print(f"{indent}[yellow]title:[/yellow] {escape(changes.title.diff)}")
    if changes.summary_changed:
        console.print(f"{indent}[yellow]summary changed[/yellow]")
    for text in changes.added:
        console.print(f"{indent}[green]+ {escape(_excerpt(text))}[/green]")
    for text in changes.removed:
        console.print(f"{indent}[red]- {escape(_excerpt(text))}[/red]")
    for edit in changes.edited:
        console.print(f"{indent}[yellow]~[/yellow] "
                      f"{escape(word_diff(edit.before, edit.after, context=_CONTEXT))}")


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT].rsplit(" ", 1)[0] + " …"
