"""`newsflow push`: WebSub push subscriptions (docs/push.md): the callback receiver, the processing
of received pushes, the subscriptions' upkeep and their status."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import click

from ingest.feeds import load_feeds
from ingest.push import PushStore, to_document
from newsflow.core.errors import ConfigError
from newsflow.core.es import make_client
from newsflow.core.settings import Settings, load_settings


def _feeds(settings: Settings, feeds_file: Path | None) -> Path:
    path = feeds_file or settings.feeds_file
    if path is None:
        raise ConfigError("no feeds file: pass --feeds FILE or set NEWSFLOW_FEEDS_FILE")
    return path


_FEEDS = click.option("--feeds", "feeds_file", type=click.Path(dir_okay=False, path_type=Path),
                      help="The feeds file (default: NEWSFLOW_FEEDS_FILE).")


@click.group("push")
def command() -> None:
    """WebSub push: receive hubs' pushes, process them, keep the subscriptions up."""


@command.command("serve")
@click.option("--port", type=int, default=None, help="Listen port (default: NEWSFLOW_PUSH__LISTEN_PORT).")
def serve(port: int | None) -> None:
    """The callback receiver: answers verifications, spools signed pushes (runs until stopped)."""
    from newsflow.app.push import PushServer

    settings = load_settings()
    client = make_client(settings)
    server = PushServer(settings, client, port=port)
    click.echo(f"listening on {server.url}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
        client.close()


@command.command("process")
@_FEEDS
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout (per batch with --watch).")
@click.option("--watch", is_flag=True,
              help="Keep running: process each push as soon as it is spooled (spaCy loaded once); "
                   "SIGTERM or SIGINT finish the batch under way, then exit 0.")
@click.option("--every", type=float, default=None,
              help="With --watch: seconds between two looks at an empty spool (default 0.25).")
def process(feeds_file: Path | None, as_json: bool, watch: bool, every: float | None) -> None:
    """Run the cycle on the pushes received so far (then remove them from the push spool)."""
    from newsflow.app.push import WATCH_EVERY, PushRun, process_pushes, watch_pushes

    settings = load_settings()
    path = _feeds(settings, feeds_file)

    def show(run: PushRun) -> None:
        out = {"pushes": run.pushes, "feeds": run.feeds, "dropped": run.dropped,
               "cycle": run.report.to_json() if run.report is not None else None,
               "problems": list(run.problems)}
        click.echo(json.dumps(out) if as_json else
                   f"{run.pushes} push(es) of {run.feeds} feed(s) processed, {run.dropped} dropped")

    if not watch:
        show(process_pushes(settings, load_feeds(path)))
        return
    stop = threading.Event()

    def finish(signum: int, _frame: object) -> None:
        click.echo(f"{signal.Signals(signum).name}: stopping after the batch under way", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    batches = watch_pushes(settings, lambda: load_feeds(path), stop,
                           every=WATCH_EVERY if every is None else max(0.05, every), on_batch=show,
                           on_ready=lambda: click.echo(f"watching {settings.push_dir / 'spool'}", err=True))
    click.echo(f"stopped after {batches} batch(es)", err=True)


@command.command("subscribe")
@_FEEDS
def subscribe(feeds_file: Path | None) -> None:
    """Renew due leases and unsubscribe feeds no longer in the file (new hubs are found by `run`)."""
    from newsflow.app.push import reconcile_subscriptions

    settings = load_settings()
    if not settings.push.callback_url:
        raise ConfigError("no callback URL: set NEWSFLOW_PUSH__CALLBACK_URL (see docs/push.md)")
    client = make_client(settings)
    try:
        problems = reconcile_subscriptions(client, settings, load_feeds(_feeds(settings, feeds_file)), {})
    finally:
        client.close()
    for problem in problems:
        click.echo(problem, err=True)


@command.command("status")
def status() -> None:
    """The subscriptions (JSON, one per line) and the receiver's counts (forged, replayed, ...)."""
    settings = load_settings()
    client = make_client(settings)
    try:
        subscriptions = PushStore(client, settings).load_all()
    finally:
        client.close()
    for sub in subscriptions.values():
        doc = to_document(sub)
        doc.pop("nonce")
        click.echo(json.dumps(doc))
    stats = settings.push_dir / "stats.json"
    click.echo(json.dumps({"receiver": json.loads(stats.read_text()) if stats.is_file() else {}}))
