"""`newsflow setup`: create or upgrade everything under the index prefix."""

from __future__ import annotations

import click

from newsflow.app.indices import ensure_all
from newsflow.core.es import make_client
from newsflow.core.settings import load_settings


@click.command("setup")
def command() -> None:
    """Create or upgrade the index templates, ILM policy, articles alias, dead-letter, feed-state,
    rules and alerts indices under NEWSFLOW_INDEX_PREFIX. Idempotent: safe to run any time."""
    settings = load_settings()
    client = make_client(settings)
    try:
        ensure_all(client, settings)
    finally:
        client.close()
    click.echo(f"ready: {settings.index_name('articles')} and friends on {settings.es_url_redacted}")
