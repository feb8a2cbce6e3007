"""WebSub push, the application side (docs/push.md): the callback receiver (`newsflow push serve`),
the processing of received pushes through the cycle (`newsflow push process`), and the
subscriptions a cycle keeps up (`reconcile_subscriptions`).

The receiver answers the hubs' verification of intent from the subscriptions in `<prefix>-push`,
and accepts a push only when its X-Hub-Signature is the HMAC of the body with that subscription's
secret (derived from the master secret and the callback's nonce, so accepting needs no
Elasticsearch). It bounds the body (413) and the rate per subscription (429), ignores a body it
already accepted for that subscription within `push.replay_window` (answered 200 so the hub stops
retrying, never spooled twice), and answers 202 only after the push is fsynced into the spool.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from elasticsearch import Elasticsearch

from ingest.push import PushSpool, PushStore, Subscriber, master_secret
from ingest.types import FeedResult, FeedSpec, FeedState, HubLinks
from ingest.websub import (
    PushedBody,
    RateLimiter,
    ReplayGuard,
    derive_secret,
    parse_callback_path,
    pushed_result,
    signature_valid,
)
from newsflow.core.errors import IndexError_, PushSpoolCorrupt
from newsflow.core.models import utc_now
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)


def push_spool(settings: Settings) -> PushSpool:
    return PushSpool(settings.push_dir / "spool")


def push_marker(settings: Settings) -> Path:
    """The file the receiver touches after each spooled push: the news_push DAG's AssetWatcher
    (a FileDeleteTrigger on it) deletes it and starts a run (dags/news_push.py keeps the same path)."""
    return settings.push_dir / "pushed"


def touch_marker(marker: Path) -> None:
    """Create the marker (a failure is logged: the push is spooled already, the next one retries)."""
    try:
        marker.touch()
    except OSError as exc:
        log.warning("push marker %s not touched (an event-driven DAG waits for the next push): %s",
                    marker, exc)


class PushReceiver:
    """The callback's logic, apart from HTTP: `verify` answers a GET, `receive` a POST. Thread-safe.
    `counts`: accepted, forged, replayed, too_large, rate_limited, verified, refused_verification."""

    def __init__(self, settings: Settings, store: PushStore) -> None:
        self.settings = settings
        self.store = store
        self.spool = push_spool(settings)
        self.marker = push_marker(settings)
        self._master = master_secret(settings)
        self._lock = threading.Lock()
        self._replays = ReplayGuard(settings.push.replay_window)
        self._rate = RateLimiter(settings.push.rate_per_feed, settings.push.rate_burst)
        self.counts: Counter[str] = Counter()
        self._stats = settings.push_dir / "stats.json"
        self._stats.parent.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for path in self.spool.paths():  # spooled, not yet processed: still replays after a restart
            parts = path.stem.split("-")
            if len(parts) >= 3:
                self._replays.remember(parts[-2], parts[-1], now)

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1
            snapshot = dict(self.counts)
        temporary = self._stats.with_suffix(f".{threading.get_ident()}.tmp")
        try:
            temporary.write_text(json.dumps(snapshot))
            os.replace(temporary, self._stats)
        except OSError as exc:
            log.warning("push stats not written: %s", exc)

    def verify(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        """A hub's verification of intent (or notice of denial): (status, body to answer)."""
        found = parse_callback_path(path)
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        if found is None or not topic:
            return 404, ""
        key, nonce = found
        try:
            sub = self.store.get(key)
            if sub is None or sub.nonce != nonce or sub.topic != topic:
                self._count("refused_verification")
                return 404, ""
            now = utc_now()
            if mode == "denied":
                self.store.update(key, state="denied", last_error=f"denied by the hub: "
                                  f"{query.get('hub.reason', 'no reason given')}")
                return 200, ""
            challenge = query.get("hub.challenge", "")
            if not challenge:
                return 400, ""
            if mode == "subscribe" and sub.state in ("requested", "active"):
                lease = _lease(query.get("hub.lease_seconds"), self.settings.push.lease_seconds)
                self.store.update(key, state="active", verified_at=now, lease_seconds=lease,
                                  expires_at=now + timedelta(seconds=lease), last_error="")
            elif mode == "unsubscribe" and sub.state == "unsubscribing":
                self.store.update(key, state="unsubscribed", verified_at=now, expires_at=None)
            else:
                self._count("refused_verification")
                return 404, ""
        except IndexError_ as exc:  # the hub retries its verification later
            log.warning("verification of %s not answered: %s", key, exc)
            return 503, ""
        self._count("verified")
        log.info("confirmed the hub's %s of %s", mode, sub.feed_url)
        return 200, challenge

    def receive(self, path: str, signature: str, content_type: str, body: bytes) -> int:
        """A pushed body whose length is within bounds: the status to answer."""
        found = parse_callback_path(path)
        if found is None:
            return 404
        key, nonce = found
        if not signature_valid(signature, body, derive_secret(self._master, key, nonce)):
            self._count("forged")
            log.warning("push to %s refused: X-Hub-Signature missing or wrong", key)
            return 403
        digest = hashlib.sha256(body).hexdigest()
        now = time.monotonic()
        with self._lock:
            if not self._rate.allow(key, now):
                rate_limited = True
            else:
                rate_limited = False
                replay = self._replays.is_replay(key, digest[:16], now)
                if not replay:
                    self._replays.remember(key, digest[:16], now)  # before writing: a concurrent copy waits
        if rate_limited:
            self._count("rate_limited")
            return 429
        if replay:
            self._count("replayed")
            log.warning("push to %s ignored: the same body was accepted within the replay window", key)
            return 200
        try:
            self.spool.put(PushedBody(key=key, nonce=nonce, body=body, content_type=content_type,
                                      received_at=utc_now(), digest=digest))
        except OSError as exc:
            with self._lock:
                self._replays.forget(key, digest[:16])
            log.error("push to %s not spooled (the hub will retry): %s", key, exc)
            return 503
        touch_marker(self.marker)
        self._count("accepted")
        return 202

    def too_large(self) -> int:
        self._count("too_large")
        return 413


def _lease(value: str | None, default: int) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


class PushServer:
    """`newsflow push serve`: the receiver over HTTP (stdlib, one thread per request), on
    push.listen_host:listen_port (127.0.0.1 by default: expose it through a reverse proxy)."""

    def __init__(self, settings: Settings, client: Elasticsearch, *, port: int | None = None) -> None:
        self.receiver = PushReceiver(settings, PushStore(client, settings))
        limit = settings.push.max_body_bytes
        receiver = self.receiver

        class Handler(BaseHTTPRequestHandler):
            server_version = "newsflow-push"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

            def _answer(self, status: int, body: str = "", *, close: bool = False) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                self._answer(*receiver.verify(self.path, query))

            def do_POST(self) -> None:
                length_header = self.headers.get("Content-Length")
                if length_header is None or not length_header.isdigit():
                    self._answer(411, close=True)  # a chunked body of unknown size is not read
                    return
                length = int(length_header)
                if length > limit:
                    self._answer(receiver.too_large(), close=True)  # never read: the connection goes
                    return
                body = self.rfile.read(length)
                if len(body) < length:
                    self._answer(400, close=True)
                    return
                self._answer(receiver.receive(self.path, self.headers.get("X-Hub-Signature", ""),
                                              self.headers.get("Content-Type", ""), body))

        self.httpd = ThreadingHTTPServer((settings.push.listen_host,
                                          settings.push.listen_port if port is None else port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def __enter__(self) -> PushServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- subscriptions kept up by the cycle ---

def reconcile_subscriptions(client: Elasticsearch, settings: Settings, specs: Sequence[FeedSpec],
                            discovered: Mapping[str, HubLinks]) -> tuple[str, ...]:
    """Subscribe, renew and unsubscribe for the whole feeds file; the problems, one line each (a hub's
    failure never fails the cycle). Nothing unless push.callback_url is set."""
    if not settings.push.callback_url:
        return ()
    subscriber = Subscriber(PushStore(client, settings), settings)
    try:
        report = subscriber.reconcile(specs, discovered)
    except IndexError_ as exc:
        return (f"push subscriptions not updated: {exc}",)
    finally:
        subscriber.close()
    if report.subscribed or report.renewed or report.unsubscribed:
        log.info("push subscriptions: %d requested, %d renewed, %d unsubscribed", report.subscribed,
                 report.renewed, report.unsubscribed)
    return report.problems


# --- processing the spool ---

@dataclass(frozen=True, slots=True)
class PushRun:
    """What `newsflow push process` did."""

    pushes: int = 0  # spool files read
    feeds: int = 0  # feeds they belonged to
    dropped: int = 0  # pushes for feeds no longer in the feeds file (or corrupt: set aside)
    report: Any = None  # the CycleReport of the run, None when nothing was spooled
    problems: tuple[str, ...] = field(default=())


def process_pushes(settings: Settings, specs: Sequence[FeedSpec], *, pipeline: Any = None) -> PushRun:
    """Run the cycle (normalise, dedupe, enrich, index, alert) on the spooled pushes of the feeds in
    `specs`; each spool file is removed only once its articles are indexed or in the article spool
    (a run killed before that leaves them for the next run, which finds the articles unchanged)."""
    from newsflow.app.cycle import Pipeline

    spool = push_spool(settings)
    by_key: dict[str, list[tuple[Path, PushedBody]]] = {}
    problems: list[str] = []
    listed = {spec.key: spec for spec in specs}
    dropped: list[Path] = []
    paths = spool.paths()
    for path in paths:
        try:
            push = spool.read(path)
        except (PushSpoolCorrupt, OSError) as exc:
            problems.append(str(exc))
            spool.set_aside(path)
            continue
        if push.key not in listed:
            dropped.append(path)  # the feed left the feeds file: its pushes go with it
            continue
        by_key.setdefault(push.key, []).append((path, push))
    spool.remove(dropped)
    if not by_key:
        return PushRun(pushes=len(paths), dropped=len(paths), problems=tuple(problems))
    pushed_specs = [listed[key] for key in by_key]

    def from_spool(specs: Sequence[FeedSpec], states: Mapping[str, FeedState], settings: Settings,
                   **_: Any) -> list[FeedResult]:
        results = []
        for spec in specs:
            state = states.get(spec.key)
            results.append(pushed_result(spec, state, [push for _, push in by_key[spec.key]],
                                         fetch_url=state.fetch_url if state else spec.url,
                                         max_bytes=settings.fetch.max_body_bytes))
        return results

    owned = pipeline is None
    pipeline = pipeline or Pipeline(settings, recheck_stories=True)  # beside the polled cycles
    try:
        report = pipeline.run(pushed_specs, poll=from_spool)
    finally:
        if owned:
            pipeline.close()
    if report.not_kept == 0:
        spool.remove(path for pairs in by_key.values() for path, _ in pairs)
    else:
        problems.append(f"{report.not_kept} article(s) neither indexed nor spooled: their pushes stay "
                        "in the push spool for the next run")
    return PushRun(pushes=len(paths), feeds=len(by_key), dropped=len(paths) - sum(map(len, by_key.values())),
                   report=report, problems=tuple(problems))


# --- processing as pushes arrive ---

WATCH_EVERY = 0.25  # seconds between two looks at the push spool while it is empty


def watch_pushes(settings: Settings, load_specs: Callable[[], Sequence[FeedSpec]], stop: threading.Event,
                 *, every: float = WATCH_EVERY, on_batch: Callable[[PushRun], None] = lambda run: None,
                 on_ready: Callable[[], None] = lambda: None, pipeline: Any = None) -> int:
    """`newsflow push process --watch`: one Pipeline (one Elasticsearch client, spaCy loaded once,
    before the first push) that runs `process_pushes` on whatever the spool holds as soon as it holds
    something, looking every `every` seconds; the feeds file is read again for each batch. Returns
    when `stop` is set, after the batch under way (a SIGKILL instead loses nothing: a spool file is
    removed only once its articles are kept). The number of batches run."""
    from newsflow.app.cycle import Pipeline

    spool = push_spool(settings)
    owned = pipeline is None
    pipeline = pipeline or Pipeline(settings, recheck_stories=True)  # beside the polled cycles
    batches = 0
    try:
        _ = pipeline.enricher.nlp  # the model's load is paid now, not by the first push
        on_ready()
        while not stop.is_set():
            if not spool.paths():
                stop.wait(every)
                continue
            run = process_pushes(settings, load_specs(), pipeline=pipeline)
            batches += 1
            on_batch(run)
            if run.problems and run.report is not None and run.report.not_kept:
                stop.wait(max(every, 5.0))  # the articles could not be kept: not a busy loop on them
    finally:
        if owned:
            pipeline.close()
    return batches
