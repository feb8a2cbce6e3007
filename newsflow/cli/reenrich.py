"""`newsflow reenrich`: reprocess stored articles after a model or rule change."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import Progress

from newsflow.core.es import make_client
from newsflow.core.settings import load_settings


@click.command("reenrich")
@click.option("--query", default="*", show_default=True,
              help="Lucene query selecting the stored articles to reprocess (persons:, organizations: "
                   "and locations: match every spelling, as in `newsflow search`).")
@click.option("--batch-size", default=200, show_default=True, help="Articles per batch.")
def command(query: str, batch_size: int) -> None:
    """Run enrichment (language, entities, topics) again over stored articles and update them in
    place, stamping the current enrichment version."""
    from enrich.reenrich import reenrich
    from newsflow.index.documents import language_copy
    from newsflow.index.entity_query import rewrite_entity_fields

    settings = load_settings()
    client = make_client(settings)
    console = Console(stderr=True)
    try:
        with Progress(console=console, disable=not console.is_terminal) as progress:
            task = progress.add_task("re-enriching", total=None)
            count = reenrich(client, settings, query=rewrite_entity_fields(query), batch_size=batch_size,
                             on_progress=lambda done: progress.update(task, completed=done),
                             kept_outside_source=lambda article: language_copy(article, settings.index))
    finally:
        client.close()
    click.echo(f"re-enriched {count} article(s)")
