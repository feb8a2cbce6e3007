"""Worker processes die with their parent: a real `newsflow run` killed (SIGKILL, SIGTERM) while its
NER worker processes are enriching leaves no process behind (each would hold ~0.6 GB for ever)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from newsflow.core.processes import die_with_parent
from tests.conftest import OPT_IN_ENV
from tests.support.corpus_feeds import Item, rss, story
from tests.support.feedserver import FeedServer, Response

pytestmark = [pytest.mark.es, pytest.mark.slow]


def children_of(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`, read from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            state, ppid = stat
            if ppid == pid and state != "Z":
                found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has exited; only its entry is left


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[1])


def long_feeds(n_feeds: int = 2, items_per_feed: int = 60, chars: int = 20_000) -> dict[str, bytes]:
    """Feeds of long articles (NER reads up to 20,000 characters of each): a chunk of them keeps a
    worker busy for many seconds, as real long reads do."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    feeds: dict[str, bytes] = {}
    counter = 0
    for f in range(n_feeds):
        items = []
        for _ in range(items_per_feed):
            counter += 1
            title, paragraphs = story(rng, counter)
            while sum(len(p) for p in paragraphs) < chars:
                paragraphs += story(rng, counter)[1]
            items.append(Item(link=f"https://long{f}.test/{counter}", title=title,
                              body="\n".join(f"<p>{escape(p)}</p>" for p in paragraphs),
                              published=now - timedelta(minutes=counter)))
        feeds[f"long{f}.xml"] = rss(f"long{f}", items)
    return feeds


@pytest.fixture
def run_env(make_settings: Any, tmp_path: Path) -> Any:
    feeds = long_feeds()
    with FeedServer() as server:
        for name, body in feeds.items():
            server.route(name, Response(body=body, headers={"Content-Type": "application/rss+xml"}))
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text("feeds:\n" + "".join(f"  - url: {server.url(n)}\n" for n in feeds))
        settings = make_settings()
        env = {
            **os.environ, **OPT_IN_ENV,
            "NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
            "NEWSFLOW_HOME": str(settings.home), "NEWSFLOW_FETCH__POLITENESS_DELAY": "0",
            # Two NER processes, each given 30 long articles at once: a killed parent's workers
            # would go on for many seconds with the chunk they hold (then the next ones queued).
            "NEWSFLOW_ENRICH__N_PROCESS": "2", "NEWSFLOW_ENRICH__MIN_TEXTS_PER_PROCESS": "1",
            "NEWSFLOW_ENRICH__BATCH_SIZE": "30",
        }
        yield env, feeds_file


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_ner_workers_exit_when_the_run_is_killed_while_enriching(run_env: Any, sig: int) -> None:
    env, feeds_file = run_env
    # Output to files, not pipes: orphaned workers would hold a pipe open and hang the reader.
    out = feeds_file.with_name("run.out")
    with out.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsflow", "-q", "run", "--feeds", str(feeds_file)],
            env=env, stdout=sink, stderr=subprocess.STDOUT)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
            workers |= children_of(process.pid)
            time.sleep(0.05)
        if len(workers) < 2:
            process.kill()
            process.wait()
            pytest.fail(f"no NER workers seen (exit {process.returncode}): {out.read_text()[-3000:]}")
        time.sleep(1.5)  # the workers are enriching their first chunks now
        workers |= children_of(process.pid)
        process.send_signal(sig)
        process.wait(timeout=30)

        gone_by = time.monotonic() + 3
        while any(alive(pid) for pid in workers) and time.monotonic() < gone_by:
            time.sleep(0.05)
        left = sorted(pid for pid in workers if alive(pid))
        assert left == [], f"worker processes {left} outlived the killed run {process.pid}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in workers:  # never leave a 0.6 GB orphan behind, even when the test fails
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_worker_whose_parent_died_before_it_was_armed_exits_at_once() -> None:
    """The race PR_SET_PDEATHSIG leaves open: the parent is gone before the worker asks for the
    signal, so the worker has already been re-parented."""
    child = os.fork()
    if child == 0:  # the "worker": it was told a parent pid that is not its parent any more
        try:
            die_with_parent(parent_pid=os.getppid() + 1_000_000)
        finally:
            os._exit(0)  # reached only if die_with_parent returned
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 1
