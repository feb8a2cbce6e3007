"""`newsflow push process --watch` in a subprocess, fed by the local hub through the in-process
receiver: a signed push is indexed and alerted within seconds, SIGTERM ends it with 0, and a watcher
SIGKILLed mid-batch (after indexing, before the spool is cleared) loses and duplicates nothing once
restarted."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newsflow.alerts.rules import RuleStore
from newsflow.app.push import push_spool
from newsflow.core.es import make_client
from tests.conftest import OPT_IN_ENV, REPO
from tests.push.test_websub_hub import _subscribed, atom
from tests.support.feedserver import FeedServer, Response
from tests.support.websub_hub import LocalHub

LATENCY_BOUND = 20.0  # seconds from the hub's push to the webhook's alert (a loaded 2-core machine)


class Watcher:
    """`python -m newsflow push process --watch --json` with its stdout/stderr read by threads."""

    def __init__(self, settings: Any, feeds_file: Path, fault_point: str | None = None) -> None:
        env = {**os.environ, **OPT_IN_ENV, "PYTHONPATH": str(REPO), "NEWSFLOW_HOME": str(settings.home),
               "NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
               "NEWSFLOW_ALERTS__DELIVERY_LEASE": "1"}
        if fault_point:
            env["NEWSFLOW_FAULT_POINT"] = fault_point
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsflow", "push", "process", "--feeds", str(feeds_file), "--watch",
             "--json", "--every", "0.2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.batches: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        self.ready = threading.Event()
        self._readers = [threading.Thread(target=self._out, daemon=True),
                         threading.Thread(target=self._err, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _out(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.batches.put(json.loads(line))

    def _err(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            if line.startswith("watching "):
                self.ready.set()

    def wait_ready(self, timeout: float = 120.0) -> None:
        assert self.ready.wait(timeout), "".join(self.stderr[-40:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(5)
            for reader in self._readers:
                reader.join(5)
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_watch_processes_pushes_at_once_and_a_sigkill_mid_batch_loses_nothing(
        hub: LocalHub, receiver: Any, tmp_path: Path) -> None:
    _server, settings = receiver
    topic = "http://127.0.0.1:9/watched.atom"  # never polled: everything arrives by push
    _subscribed(hub, settings, topic)
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {topic}\n")
    client = make_client(settings)
    alias = settings.index_name("articles")
    spool = push_spool(settings)
    with FeedServer() as hooks:
        hooks.route("/hook", Response(status=200, body=b"ok"))
        RuleStore(client, settings).add("everything-pushed", "body:Officials",
                                        [f"webhook:{hooks.url('/hook')}"])

        def indexed() -> dict[str, int]:
            client.indices.refresh(index=alias)
            found = client.search(index=alias, size=0, aggs={"u": {"terms": {"field": "url", "size": 100}}})
            return {b["key"]: b["doc_count"] for b in found["aggregations"]["u"]["buckets"]}

        # 1. A push, indexed and alerted within the bound; SIGTERM: exit 0.
        first = Watcher(settings, feeds_file)
        try:
            first.wait_ready()
            pushed_at = time.monotonic()
            body = atom("Watched", [("Harbour strike closes the port of Marseille", "http://example.com/w1")])
            assert hub.publish(topic, body)[0].statuses == [202]
            assert _wait(lambda: bool(hooks.requests_to("/hook")), LATENCY_BOUND), "".join(first.stderr[-40:])
            latency = time.monotonic() - pushed_at
            batch = first.batches.get(timeout=10)
            assert (batch["pushes"], batch["feeds"], batch["cycle"]["articles"]["new"]) == (1, 1, 1)
            assert indexed() == {"http://example.com/w1": 1}
            assert spool.paths() == []
        finally:
            assert first.stop(signal.SIGTERM) == 0, "".join(first.stderr[-40:])

        # 2. Killed mid-batch: after indexing, before the spool file is removed.
        entries = [(f"Story {n} of the flooded valley near Lyon", f"http://example.com/k{n}")
                   for n in range(3)]
        killed = Watcher(settings, feeds_file, fault_point="after_index")
        try:
            killed.wait_ready()
            assert hub.publish(topic, atom("Watched", entries))[0].statuses == [202]
            assert killed.process.wait(60) == -signal.SIGKILL, "".join(killed.stderr[-40:])
        finally:
            killed.stop(signal.SIGKILL)
        assert len(spool.paths()) == 1  # the push outlived the crash
        assert len(indexed()) == 4  # its articles were indexed before the kill

        # 3. Restarted: the push is processed again, nothing twice, then the spool is empty.
        again = Watcher(settings, feeds_file)
        try:
            again.wait_ready()
            assert _wait(lambda: spool.paths() == [], 60), "".join(again.stderr[-40:])
            batch = again.batches.get(timeout=10)
            assert batch["pushes"] == 1 and batch["cycle"]["articles"]["new"] == 0
            assert _wait(lambda: len({json.loads(r.body)["id"] for r in hooks.requests_to("/hook")}) >= 2, 30)
        finally:
            assert again.stop(signal.SIGINT) == 0, "".join(again.stderr[-40:])
        counts = indexed()
        assert counts == {"http://example.com/w1": 1, **{url: 1 for _, url in entries}}
        client.indices.refresh(index=alias)
        stories = client.search(index=alias, size=0,
                                aggs={"s": {"terms": {"field": "story_id", "size": 100}}})
        story_ids = {b["key"] for b in stories["aggregations"]["s"]["buckets"]}
        alert_ids = [json.loads(r.body)["id"] for r in hooks.requests_to("/hook")]
        assert len(alert_ids) == len(set(alert_ids)) == len(story_ids)  # one alert per story, once
    client.close()
    print(f"push-to-alert {latency:.2f} s; articles {len(counts)}; stories {len(story_ids)}; "
          f"alerts {len(alert_ids)}")
