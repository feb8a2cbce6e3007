"""The pushed path of the latency benchmark (`newsflow bench --airflow-latency --pushed N`, issue 21).

Beside the polled feeds, N feeds announce a WebSub hub: the local hub of the tests
(tests/support/websub_hub.py, a development checkout only), to which they are subscribed through
newsflow's own subscriber and a `newsflow push serve` subprocess (which answers the hub's
verification). At each publication into a pushed feed, the hub pushes the feed's new document, signed,
to the receiver, which spools it; a `newsflow push process --watch` subprocess (spaCy loaded once)
processes the spool as soon as a push lands, through the same cycle, and the one saved rule alerts
the benchmark's webhook. The scheduled path meanwhile skips those feeds until their safety poll.

Everything started here is stopped by PID (SIGTERM, then SIGKILL) or shut down at the end.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from newsflow.core.settings import Settings
from newsflow.dev.paths import project_dir

READY_TIMEOUT = 180.0  # seconds for a subprocess to say it is ready (spaCy's load on a busy machine)
STOP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Process:
    """A `python -m newsflow ...` subprocess whose stderr is read by a thread (ready on a line)."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], ready_prefix: str,
                 log: Path) -> None:
        self.name = name
        self._out = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen([sys.executable, "-m", "newsflow", *args], env=dict(env),
                                        stdout=self._out, stderr=subprocess.PIPE, text=True,
                                        cwd=project_dir())
        self.ready = threading.Event()
        self.tail: list[str] = []
        self._prefix = ready_prefix
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.tail = [*self.tail[-40:], line]
            if line.startswith(self._prefix):
                self.ready.set()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start (exit {self.process.poll()}): "
                                   + "".join(self.tail[-10:]))

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self._out.close()
        return self.process.returncode


class PushRig:
    """The hub, the receiver and the watcher for the pushed feeds. `start`, `subscribe`, then `push`
    at each publication (delivered by one thread, in order); `stop` at the end."""

    def __init__(self, settings: Settings, feeds_file: Path, scratch: Path,
                 say: Callable[[str], None]) -> None:
        from tests.support.websub_hub import LocalHub  # a development checkout only

        self.port = free_port()
        secret = secrets.token_hex(16)
        self.settings = settings.model_copy(update={
            "feeds_file": feeds_file,
            "push": settings.push.model_copy(update={
                "callback_url": f"http://127.0.0.1:{self.port}/websub",
                "secret": SecretStr(secret), "listen_port": self.port}),
            "fetch": settings.fetch.model_copy(update={"allow_private_addresses": True})})
        self.feeds_file = feeds_file
        self.scratch = scratch
        self.say = say
        self.hub = LocalHub(retries=3, backoff=0.2)
        self.env = {
            **os.environ,
            "NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
            "NEWSFLOW_HOME": str(settings.home), "NEWSFLOW_FEEDS_FILE": str(feeds_file),
            "NEWSFLOW_PUSH__CALLBACK_URL": self.settings.push.callback_url,
            "NEWSFLOW_PUSH__SECRET": secret,
            "NEWSFLOW_PUSH__LISTEN_PORT": str(self.port),
            "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
            "PYTHONPATH": os.pathsep.join(p for p in (str(project_dir()), os.environ.get("PYTHONPATH", ""))
                                          if p),
        }
        self._processes: list[_Process] = []
        self._queue: queue.Queue[tuple[str, bytes, Callable[[float, bool], None]] | None] = queue.Queue()
        self._sender = threading.Thread(target=self._send, daemon=True)
        self.deliveries: list[dict[str, Any]] = []  # one per push: attempts' statuses, seconds

    def start(self, *, watch: bool = True) -> None:
        """The hub and the receiver; with `watch`, the --watch processor too (without it, the
        news_push DAG of the benchmark's Airflow processes the spool, on the receiver's marker)."""
        self.hub.__enter__()
        self._sender.start()
        receiver = _Process("newsflow push serve", ["push", "serve"], self.env, "listening on ",
                            self.scratch / "push-serve.log")
        self._processes.append(receiver)
        receiver.wait_ready(60.0)
        if not watch:
            return
        watcher = _Process("newsflow push process --watch",
                           ["push", "process", "--feeds", str(self.feeds_file), "--watch", "--json",
                            "--every", "0.2"], self.env, "watching ", self.scratch / "push-watch.log")
        self._processes.append(watcher)
        self.say("waiting for the push watcher to load spaCy")
        watcher.wait_ready()

    def subscribe(self, topics: Sequence[str]) -> None:
        """Subscribe the feeds (their URLs, also their topics) at the hub through newsflow's
        subscriber, as a run does for the hubs its polls found; wait until the hub verified each."""
        from ingest.types import FeedSpec, HubLinks
        from newsflow.app.push import reconcile_subscriptions
        from newsflow.core.es import make_client

        specs = [FeedSpec(url=url) for url in topics]
        client = make_client(self.settings)
        try:
            problems = reconcile_subscriptions(client, self.settings, specs,
                                               {spec.key: HubLinks(self.hub.url, spec.url) for spec in specs})
        finally:
            client.close()
        if problems:
            raise RuntimeError("subscribing the pushed feeds failed: " + "; ".join(problems))
        if not self.hub.wait_for(lambda: all(self.hub.subscribers(url) for url in topics), 60.0):
            raise RuntimeError("the hub did not verify every subscription within 60 s")

    def push(self, topic: str, body: bytes, done: Callable[[float, bool], None]) -> None:
        """Have the hub push `body` to the topic's subscribers; `done(time, accepted)` after."""
        self._queue.put((topic, body, done))

    def _send(self) -> None:
        while (job := self._queue.get()) is not None:
            topic, body, done = job
            began = time.time()
            deliveries = self.hub.publish(topic, body, content_type="application/rss+xml")
            at = time.time()
            accepted = bool(deliveries) and all(d.accepted for d in deliveries)
            self.deliveries.append({"statuses": [s for d in deliveries for s in d.statuses],
                                    "seconds": round(at - began, 3)})
            done(at, accepted)

    def counts(self) -> dict[str, Any]:
        stats = self.settings.push_dir / "stats.json"
        statuses: dict[str, int] = {}
        for delivery in self.deliveries:
            for status in delivery["statuses"]:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        return {"pushes": len(self.deliveries), "hub_attempts_by_status": statuses,
                "receiver": json.loads(stats.read_text()) if stats.is_file() else {},
                "left_in_spool": len(list((self.settings.push_dir / "spool").glob("*.push")))}

    def stop(self) -> dict[str, int | None]:
        self._queue.put(None)
        self._sender.join(timeout=30)
        codes = {process.name: process.stop() for process in reversed(self._processes)}
        self.hub.__exit__(None, None, None)
        return codes
