"""The `newsflow` command line. Each command group lives in a module of its own, listed below;
this module only builds the top-level group, sets up logging and maps errors to exit codes.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from newsflow.core.errors import NewsflowError

# Modules that each define a click command or group named `command`; registered in this order.
COMMAND_MODULES = [
    "newsflow.cli.stack",
    "newsflow.cli.setup",
    "newsflow.cli.run",
    "newsflow.cli.feeds",
    "newsflow.cli.search",
    "newsflow.cli.saved_search",
    "newsflow.cli.trends",
    "newsflow.cli.story",
    "newsflow.cli.alerts",
    "newsflow.cli.kibana",
    "newsflow.cli.reenrich",
    "newsflow.cli.bench",
    "newsflow.cli.airflow",
    "newsflow.cli.push",
    "newsflow.cli.rig",  # its group takes the Celery half's commands (newsflow.cli.rig_celery)
]


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except NewsflowError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(package_name="newsflow")
def cli(verbose: int, quiet: bool) -> None:
    """newsflow: poll news feeds, enrich articles with entities, topics and story clusters,
    index them in Elasticsearch, and alert once per story on saved queries.

    Configuration comes from NEWSFLOW_* environment variables and $NEWSFLOW_HOME/config.yaml
    (see the README). Start with `newsflow stack up`, then `newsflow run --feeds FILE`.
    """
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The HTTP libraries (and apprise, per message sent) log every request at INFO; that is noise
    # unless debugging.
    for noisy in ("httpx", "httpcore", "elastic_transport", "urllib3", "apprise"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


for _module in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_module).command)


def main() -> None:
    cli(prog_name="newsflow")
