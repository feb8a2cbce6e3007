"""`newsflow kibana import`: load the shipped data view, saved search and dashboard into Kibana."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import SecretStr

from newsflow.core.errors import ConfigError
from newsflow.core.settings import load_settings
from newsflow.index.kibana import SAVED_OBJECTS, KibanaTarget, for_prefix, import_saved_objects, parse_ndjson


@click.group("kibana")
def command() -> None:
    """Kibana objects for the articles (data view, saved search, dashboard)."""


@command.command("import")
@click.option("--url", envvar="NEWSFLOW_KIBANA_URL", default="http://127.0.0.1:5601", show_default=True,
              help="Kibana's base URL (env NEWSFLOW_KIBANA_URL).")
@click.option("--user", envvar="NEWSFLOW_KIBANA_USER", default="",
              help="Basic-auth user (env NEWSFLOW_KIBANA_USER).")
@click.option("--password", envvar="NEWSFLOW_KIBANA_PASSWORD", default="",
              help="Basic-auth password (env NEWSFLOW_KIBANA_PASSWORD; prefer the variable to the flag).")
@click.option("--api-key", envvar="NEWSFLOW_KIBANA_API_KEY", default="",
              help="An Elasticsearch API key, base64 'id:key' (env NEWSFLOW_KIBANA_API_KEY).")
@click.option("--space", envvar="NEWSFLOW_KIBANA_SPACE", default="",
              help="Kibana space id (default space if empty).")
@click.option("--ca-certs", envvar="NEWSFLOW_KIBANA_CA_CERTS", type=click.Path(exists=True, dir_okay=False),
              help="CA bundle for an HTTPS Kibana with a private CA.")
@click.option("--insecure", is_flag=True, help="Do not verify Kibana's TLS certificate (testing only).")
@click.option("--file", "objects_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SAVED_OBJECTS, show_default=True, help="The saved objects (NDJSON).")
def import_command(url: str, user: str, password: str, api_key: str, space: str, ca_certs: str | None,
                   insecure: bool, objects_file: Path) -> None:
    """Import the saved objects, rewritten for NEWSFLOW_INDEX_PREFIX, overwriting earlier versions."""
    if api_key and user:
        raise ConfigError("give either --api-key or --user/--password, not both")
    settings = load_settings()
    ndjson = for_prefix(objects_file.read_text(encoding="utf-8"), settings.index_prefix)
    target = KibanaTarget(
        url=url, username=user, password=SecretStr(password) if password else None,
        api_key=SecretStr(api_key) if api_key else None, space=space,
        verify=False if insecure else (ca_certs or True),
    )
    result = import_saved_objects(target, ndjson)
    titles = [obj["attributes"].get("title", obj["id"]) for obj in parse_ndjson(ndjson)]
    click.echo(f"imported {result.success_count} saved object(s) into {url}:")
    for title in titles:
        click.echo(f"  {title}")
    space_path = f"/s/{space}" if space else ""
    click.echo(f"open {url.rstrip('/')}{space_path}/app/dashboards#/view/{settings.index_prefix}-overview")
