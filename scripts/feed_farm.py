"""A local feed farm: N feeds built from the corpus, served over M loopback addresses, and a
measurement of a poll's fetch + parse throughput over it (developer tooling, not the runtime).

    # serve 1,000 feeds over 500 addresses (127.0.1.1 ... 127.0.2.246), write the feeds file:
    python scripts/feed_farm.py serve --feeds 1000 --feeds-file /tmp/farm.yaml
    # measure the poll alone: a cold cycle and then a no-change cycle (every feed answers 304):
    python scripts/feed_farm.py bench --feeds 1000 [--hosts 500] [--order interleaved]

Why 500 hosts by default: every request to one host waits out the 1 s politeness delay (2 at a
time), so a cycle can never be shorter than (feeds per host - 1) s. Over 200 hosts, 10,000 feeds
are 50 per host: a 49 s floor that hides the cycle's own cost (the goal is 60 s). Over 500 hosts
the floor is 19 s, and a real list of 10,000 feeds spans thousands of hosts (issue 19 asks for
at least 100); the cycle's own cost per feed is then what the measurement shows.

Every address is bound explicitly (one server per 127.0.1.x, never 0.0.0.0), so per-host
politeness applies to each as it would on the internet. Feed i is on host i // (N / M): the
feeds file lists each host's feeds together, as a publisher's section feeds usually are. Each feed
answers with an ETag and a Last-Modified and gives 304 to a request that carries them.

`bench` runs the farm in a child process (so serving does not share the poller's interpreter),
polls with the default fetch settings (32 feeds at once, 2 per host, 1 s politeness delay) plus
allow_private_addresses, and prints one JSON line per cycle: feeds, seconds, feeds/s, ms per feed,
statuses and the poller's peak resident memory (parser worker processes not included).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PORT = 8765
DEFAULT_HOSTS = 500  # 127.0.1.1 ... 127.0.2.246: a politeness floor of 19 s at 10,000 feeds
LAST_MODIFIED = "Tue, 05 Mar 2024 10:00:00 GMT"


def corpus_bodies(shared: Path, max_bytes: int) -> list[bytes]:
    """The corpus' real feeds up to `max_bytes` each ("small feeds"), in a stable order."""
    folder = shared / "corpus" / "feeds" / "real"
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.name != "INDEX.tsv"
                   and p.stat().st_size <= max_bytes)
    if not paths:
        raise SystemExit(f"no corpus feeds under {folder}: set NEWSFLOW_SHARED_DIR to the folder "
                         "holding corpus/")
    return [p.read_bytes() for p in paths]


def host_address(index: int) -> str:
    """The index-th farm address: 127.0.1.1, ... 127.0.1.254, 127.0.2.1 ..."""
    return f"127.0.{1 + index // 254}.{1 + index % 254}"


def layout(feeds: int, hosts: int) -> list[tuple[str, int]]:
    """(address, feed number) of every feed, grouped by host."""
    per_host = -(-feeds // hosts)
    return [(host_address(n // per_host), n) for n in range(feeds)]


def write_feeds_file(path: Path, feeds: int, hosts: int, order: str = "grouped") -> None:
    """The feeds file, grouped by host (a publisher's feeds together) or interleaved (round robin)."""
    feeds_of: dict[str, list[int]] = {}
    for address, n in layout(feeds, hosts):
        feeds_of.setdefault(address, []).append(n)
    if order == "interleaved":
        rounds = max(len(numbers) for numbers in feeds_of.values())
        listed = [(address, numbers[r]) for r in range(rounds) for address, numbers in feeds_of.items()
                  if r < len(numbers)]
    else:
        listed = layout(feeds, hosts)
    lines = ["feeds:"] + [f"  - http://{address}:{PORT}/feed{n}.xml" for address, n in listed]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def empty_body(n: int) -> bytes:
    """A valid RSS feed without items: `cycle` measures the cycle's per-feed cost, not NER."""
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Farm feed {n}'
            f'</title><link>http://farm.example/{n}</link><description>No items.</description>'
            '</channel></rss>').encode()


def serve(feeds: int, hosts: int, shared: Path, max_bytes: int, ready: Path | None,
          bodies_kind: str = "corpus") -> None:
    bodies = corpus_bodies(shared, max_bytes) if bodies_kind == "corpus" else []
    served: dict[tuple[str, str], tuple[bytes, str]] = {}
    for address, n in layout(feeds, hosts):
        body = bodies[n % len(bodies)] if bodies else empty_body(n)
        etag = '"' + hashlib.sha1(body + str(n).encode()).hexdigest()[:16] + '"'
        served[(address, f"/feed{n}.xml")] = (body, etag)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            found = served.get((self.server.server_address[0], self.path))  # type: ignore[index]
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, etag = found
            unchanged = (self.headers.get("If-None-Match") == etag
                         or self.headers.get("If-Modified-Since") == LAST_MODIFIED)
            self.send_response(304 if unchanged else 200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "0" if unchanged else str(len(body)))
            self.end_headers()
            if not unchanged:
                self.wfile.write(body)

    servers = []
    for address in dict.fromkeys(address for address, _ in layout(feeds, hosts)):
        server = ThreadingHTTPServer((address, PORT), Handler)  # each loopback address explicitly
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    if ready is not None:
        ready.write_text(str(os.getpid()), encoding="utf-8")
    print(f"serving {feeds} feeds over {len(servers)} addresses on port {PORT}", file=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    for server in servers:
        server.server_close()


def _peak_rss_mib() -> float:
    """This process's peak resident memory since the last reset (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # Linux: restart VmHWM from the current RSS


def _cycle(name: str, specs: list[Any], states: dict[str, Any],
           settings: Any) -> tuple[dict[str, Any], list[Any]]:
    from ingest.poll import poll_feeds

    _reset_peak_rss()
    started = time.monotonic()
    cpu_started = time.process_time()
    results = poll_feeds(specs, states, settings)
    seconds = time.monotonic() - started
    figures = {
        "cycle": name, "feeds": len(specs), "seconds": round(seconds, 2),
        "feeds_per_s": round(len(specs) / seconds, 1), "ms_per_feed": round(1000 * seconds / len(specs), 2),
        "poller_cpu_s": round(time.process_time() - cpu_started, 2),
        "articles": sum(len(r.articles) for r in results),
        "statuses": dict(Counter(r.status for r in results)),
        "failures": dict(Counter(r.reason[:80] for r in results if r.status == "failed").most_common(3)),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }
    return figures, results


def bench(feeds: int, hosts: int, max_bytes: int, order: str, delay: float | None) -> None:
    from ingest.feeds import load_feeds
    from newsflow.core.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="feed-farm-") as work:
        folder = Path(work)
        feeds_file, ready = folder / "feeds.yaml", folder / "ready"
        write_feeds_file(feeds_file, feeds, hosts, order)
        farm = subprocess.Popen([sys.executable, __file__, "serve", "--feeds", str(feeds), "--hosts",
                                 str(hosts), "--max-bytes", str(max_bytes), "--ready", str(ready)])
        try:
            while not ready.exists():
                if farm.poll() is not None:
                    raise SystemExit("the feed farm did not start")
                time.sleep(0.1)
            settings = load_settings(home=folder, index_prefix="farm", es_url="http://127.0.0.1:9",
                                     fetch={"allow_private_addresses": True,
                                            **({} if delay is None else {"politeness_delay": delay})})
            print(json.dumps({"feeds": feeds, "hosts": hosts, "order": order,
                              "politeness_delay": settings.fetch.politeness_delay,
                              "concurrency": settings.fetch.concurrency,
                              "per_host_concurrency": settings.fetch.per_host_concurrency}), flush=True)
            specs = load_feeds(feeds_file)
            cold, results = _cycle("cold", specs, {}, settings)
            print(json.dumps(cold), flush=True)
            states = {r.spec.key: r.state for r in results}
            del results  # the no-change cycle's memory should not include the cold cycle's articles
            gc.collect()
            unchanged, _ = _cycle("no-change", specs, states, settings)
            print(json.dumps(unchanged), flush=True)
        finally:
            farm.terminate()  # by its pid
            farm.wait(10)


class RequestCounter:
    """Every request this process's Elasticsearch clients send (the transport class, wrapped), and
    those that read or write feed state: any request to the feeds index, and each _bulk whose
    first action names it."""

    def __init__(self, feeds_index: str) -> None:
        self.feeds_index = feeds_index
        self.total = 0
        self.feed_state = 0
        self.feed_state_seconds = 0.0
        self.feed_state_kinds: Counter[str] = Counter()

    def reset(self) -> None:
        self.total, self.feed_state, self.feed_state_seconds = 0, 0, 0.0
        self.feed_state_kinds = Counter()

    def install(self) -> None:
        import elastic_transport

        original = elastic_transport.Transport.perform_request
        counter = self

        def perform(transport: Any, method: str, target: str, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(transport, method, target, **kwargs)
            finally:
                counter.note(method, target, kwargs.get("body"), time.perf_counter() - started)

        elastic_transport.Transport.perform_request = perform  # type: ignore[method-assign, assignment]

    def note(self, method: str, target: str, body: Any, seconds: float) -> None:
        self.total += 1
        path = target.partition("?")[0]
        first = body[0] if isinstance(body, list | tuple) and body else b""
        first_text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
        if self.feeds_index in path or (path.endswith("/_bulk") and self.feeds_index in first_text):
            self.feed_state += 1
            self.feed_state_seconds += seconds
            self.feed_state_kinds[f"{method} {path.rpartition('/')[2] or path}"] += 1


def _mark_due(client: Any, index: str, keys: list[str]) -> None:
    """Make these feeds due now (their stored next poll a minute ago), as if their interval ended."""
    from elasticsearch import helpers

    from newsflow.core.models import format_utc, utc_now

    past = format_utc(utc_now() - timedelta(minutes=1))
    actions = [{"_op_type": "update", "_index": index, "_id": key, "doc": {"next_due_at": past}}
               for key in keys]
    helpers.bulk(client, actions, refresh=True)


def cycle_one(feeds: int, hosts: int, es_url: str) -> None:
    """The full cycle (`newsflow run`: state in Elasticsearch, the local cache, dedupe, alerts)
    over a farm of item-less feeds: cold, no-change (all 304), then `--due` with a tenth due."""
    from ingest.feeds import load_feeds
    from newsflow.app.cycle import run_cycle
    from newsflow.app.indices import ensure_all
    from newsflow.core.es import make_client
    from newsflow.core.settings import load_settings
    from newsflow.index.cleanup import delete_prefix

    with tempfile.TemporaryDirectory(prefix="feed-farm-cycle-") as work:
        folder = Path(work)
        feeds_file, ready = folder / "feeds.yaml", folder / "ready"
        write_feeds_file(feeds_file, feeds, hosts)
        prefix = f"farm{os.getpid()}"
        settings = load_settings(home=folder, index_prefix=prefix, es_url=es_url,
                                 fetch={"allow_private_addresses": True})
        counter = RequestCounter(settings.index_name("feeds"))
        counter.install()
        farm = subprocess.Popen([sys.executable, __file__, "serve", "--feeds", str(feeds), "--hosts",
                                 str(hosts), "--bodies", "empty", "--ready", str(ready)])
        client = make_client(settings)
        try:
            while not ready.exists():
                if farm.poll() is not None:
                    raise SystemExit("the feed farm did not start")
                time.sleep(0.1)
            ensure_all(client, settings)  # `newsflow setup`, not part of any measured cycle
            keys = [spec.key for spec in load_feeds(feeds_file)]
            for name, due_only in (("cold", False), ("no-change", False), ("due", True)):
                if due_only:
                    _mark_due(client, settings.index_name("feeds"), keys[::10])
                gc.collect()
                counter.reset()
                _reset_peak_rss()
                started, cpu_started = time.monotonic(), time.process_time()
                profile_to = os.environ.get("FEED_FARM_PROFILE")  # a file: cProfile this cycle's
                if profile_to and name == "no-change":         # process (developer aid)
                    import cProfile

                    with cProfile.Profile() as profile:
                        report = run_cycle(settings, feeds_file, due_only=due_only)
                    profile.dump_stats(profile_to)
                else:
                    report = run_cycle(settings, feeds_file, due_only=due_only)
                seconds = time.monotonic() - started
                polled = report.fetched + report.not_modified + report.failed
                print(json.dumps({
                    "cycle": name, "feeds": feeds, "hosts": hosts, "polled": polled,
                    "seconds": round(seconds, 2),
                    "ms_per_polled_feed": round(1000 * seconds / max(polled, 1), 2),
                    "cpu_s": round(time.process_time() - cpu_started, 2),
                    "cpu_ms_per_polled_feed": round(1000 * (time.process_time() - cpu_started)
                                                    / max(polled, 1), 2),
                    "fetched": report.fetched, "not_modified": report.not_modified,
                    "failed": report.failed, "problems": list(report.problems)[:3],
                    "es_requests": counter.total, "feed_state_requests": counter.feed_state,
                    "feed_state_request_kinds": dict(counter.feed_state_kinds),
                    "feed_state_es_s": round(counter.feed_state_seconds, 2),
                    "stage_s": {k: round(v, 2) for k, v in report.stage_seconds.items()},
                    "peak_rss_mib": round(_peak_rss_mib(), 1),
                }), flush=True)
            # The Airflow plan (news_ingest's first task): read every state, pick the due, shard by host.
            from newsflow.app.tasks import plan_shards

            _mark_due(client, settings.index_name("feeds"), keys[::10])
            counter.reset()
            _reset_peak_rss()
            started, cpu_started = time.monotonic(), time.process_time()
            shards = plan_shards(str(feeds_file), settings=settings)
            seconds = time.monotonic() - started
            print(json.dumps({
                "cycle": "plan", "feeds": feeds, "hosts": hosts, "polled": feeds,
                "due": sum(len(shard) for shard in shards), "shards": len(shards),
                "seconds": round(seconds, 2), "ms_per_polled_feed": round(1000 * seconds / feeds, 3),
                "cpu_ms_per_polled_feed": round(1000 * (time.process_time() - cpu_started) / feeds, 3),
                "es_requests": counter.total, "feed_state_requests": counter.feed_state,
                "feed_state_request_kinds": dict(counter.feed_state_kinds),
                "feed_state_es_s": round(counter.feed_state_seconds, 2),
                "peak_rss_mib": round(_peak_rss_mib(), 1),
            }), flush=True)
        finally:
            farm.terminate()  # by its pid
            farm.wait(10)
            with contextlib.suppress(Exception):
                delete_prefix(client, prefix)
            client.close()


def cycle(sizes: list[int], hosts: int, es_url: str) -> None:
    """`cycle_one` for each size in a fresh process (its own peak memory), then the ratios of the
    cost per feed of the largest size to the smallest."""
    rows: list[dict[str, Any]] = []
    for feeds in sizes:
        child = subprocess.run([sys.executable, __file__, "cycle-one", "--feeds", str(feeds),
                                "--hosts", str(hosts), "--es-url", es_url],
                               stdout=subprocess.PIPE, text=True, check=True)
        for line in child.stdout.splitlines():
            print(line, flush=True)
            rows.append(json.loads(line))
    smallest, largest = min(sizes), max(sizes)
    ratios: dict[str, Any] = {"ratio": f"{largest} vs {smallest} feeds"}
    for name in ("cold", "no-change", "due", "plan"):
        small = next(r for r in rows if r["cycle"] == name and r["feeds"] == smallest)
        large = next(r for r in rows if r["cycle"] == name and r["feeds"] == largest)
        for figure in ("ms_per_polled_feed", "cpu_ms_per_polled_feed"):
            ratios[f"{name}_{figure}"] = round(large[figure] / small[figure], 3) if small[figure] else None
    print(json.dumps(ratios), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["serve", "bench", "cycle", "cycle-one"])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=DEFAULT_HOSTS,
                        help="loopback addresses (see the module docstring for the default)")
    parser.add_argument("--max-bytes", type=int, default=64 * 1024, help="largest corpus feed used")
    parser.add_argument("--feeds-file", type=Path, help="serve: where to write the feeds file")
    parser.add_argument("--order", choices=["grouped", "interleaved"], default="grouped",
                        help="how the feeds file lists the feeds")
    parser.add_argument("--politeness-delay", type=float, help="bench: instead of the default (1 s)")
    parser.add_argument("--bodies", choices=["corpus", "empty"], default="corpus",
                        help="serve: the corpus' feeds, or feeds without items")
    parser.add_argument("--sizes", default="1000,10000", help="cycle: the farm sizes to measure")
    parser.add_argument("--es-url", default=os.environ.get("NEWSFLOW_ES_URL", "http://127.0.0.1:9200"),
                        help="cycle: the Elasticsearch holding the feed states")
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= 254 * 200 or args.feeds < 1:
        raise SystemExit("--feeds must be at least 1 and --hosts between 1 and 50800")
    shared = Path(os.environ.get("NEWSFLOW_SHARED_DIR", "/work/shared"))
    if args.command == "serve":
        if args.feeds_file is not None:
            write_feeds_file(args.feeds_file, args.feeds, args.hosts, args.order)
        serve(args.feeds, args.hosts, shared, args.max_bytes, args.ready, args.bodies)
    elif args.command == "cycle":
        cycle([int(size) for size in args.sizes.split(",")], args.hosts, args.es_url)
    elif args.command == "cycle-one":
        cycle_one(args.feeds, args.hosts, args.es_url)
    else:
        bench(args.feeds, args.hosts, args.max_bytes, args.order, args.politeness_delay)


if __name__ == "__main__":
    main()
