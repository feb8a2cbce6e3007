"""`newsflow saved-search add|list|remove`: searches that feed readers follow as Atom feeds."""

from __future__ import annotations

import json

import click

from newsflow.core.errors import QueryError
from newsflow.core.es import make_client
from newsflow.core.settings import load_settings
from newsflow.index.saved_searches import SavedSearchStore
from newsflow.index.search import parse_filter

DEFAULT_BASE_URL = "http://127.0.0.1:8080"  # `newsflow airflow up`'s API server


@click.group("saved-search")
def command() -> None:
    """Searches saved as Atom feeds at a secret URL on the Airflow plugin's app, for feed readers.

    \b
    The URL carries a token (shown once, when the search is saved): anyone with the URL can read
    the feed, as with a private calendar feed. Save the search again to get a new token.
    """


@command.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--filter", "filters", multiple=True, metavar="FIELD=VALUE",
              help="Repeatable, as for search.")
@click.option("--since", default="", help="Only articles published this recently (e.g. 24h, 7d).")
@click.option("--by-story", is_flag=True, help="One entry per story.")
@click.option("--size", default=50, show_default=True, help="Entries in the feed (1-100).")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
              help="Where users reach the Airflow API server (its public URL behind a proxy).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def add(name: str, query: str, filters: tuple[str, ...], since: str, by_story: bool, size: int,
        base_url: str, as_json: bool) -> None:
    """Save QUERY as the feed NAME and print its URL (with its new token)."""
    settings = load_settings()
    client = make_client(settings)
    try:
        search, token = SavedSearchStore(client, settings).add(
            name, query, filters=[parse_filter(f) for f in filters], since=since, by_story=by_story,
            size=size)
    finally:
        client.close()
    url = f"{base_url.rstrip('/')}/newsflow{search.path()}?token={token}"
    if as_json:
        click.echo(json.dumps({"name": search.name, "query": search.query, "url": url}))
        return
    click.echo(f"saved search {search.name}: {search.query}")
    click.echo(f"  feed URL (keep it private; shown once): {url}")


@command.command("list")
def list_searches() -> None:
    """The saved searches (their tokens are not shown: they are not stored)."""
    settings = load_settings()
    client = make_client(settings)
    try:
        searches = SavedSearchStore(client, settings).list()
    finally:
        client.close()
    if not searches:
        click.echo("no saved searches (add one with `newsflow saved-search add NAME QUERY`)")
    for search in searches:
        extra = "".join([f" --filter {k}={v}" for k, v in search.filters]
                        + ([f" --since {search.since}"] if search.since else [])
                        + ([" --by-story"] if search.by_story else []))
        click.echo(f"{search.name}\t{search.query}{extra}\t/newsflow{search.path()}")


@command.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete the saved search NAME (its URL stops working)."""
    settings = load_settings()
    client = make_client(settings)
    try:
        removed = SavedSearchStore(client, settings).remove(name)
    finally:
        client.close()
    if not removed:
        raise QueryError(name, "no saved search of that name (see `newsflow saved-search list`)")
    click.echo(f"removed saved search {name}")
