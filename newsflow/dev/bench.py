"""The end-to-end benchmark (`newsflow bench`): one run, figures and ratios as JSON.

Against the real local Elasticsearch and a local HTTP server serving a directory of feed files
(by default the news part of ../shared/corpus/feeds/real), it measures:

- the cold cycle: `newsflow run` in a subprocess (fetch through alert matching, with saved rules),
  its wall time, stage times and peak resident memory of all its processes; then the same cold
  cycle with 10,000 rules (from scratch, under a prefix of its own), for what the rules add;
- the limit: spaCy's nlp.pipe with the same model and components (NER plus newsflow's entity
  canonicalizer and topic evidence) over the same texts (title + body of every article the cycle
  indexed), using all cores; and, as a stricter reference, the same with NER alone;
- a second cycle with nothing changed (conditional GETs answered 304);
- a naive reference pipeline on a sample of the feeds: one plain request per feed, feedparser with
  defaults, nlp() per article with the default pipeline, one index request per article;
- percolation cost per 1,000 articles with 100, 1,000 and 10,000 rules;
- parse throughput (items/s) and enrichment throughput (words/s against raw nlp.pipe).

All feeds are served from one loopback host, so the benchmark turns the per-host politeness delay
off (real feeds are spread over many hosts); everything else runs with the defaults.
"""

from __future__ import annotations

import csv
import gzip
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from newsflow.core.models import Article
from newsflow.core.settings import Settings
from newsflow.dev.paths import project_dir, shared_dir
from newsflow.index.cleanup import delete_prefix

REPO = project_dir()
SHARED = shared_dir()  # the read-only corpus
DEFAULT_CORPUS = SHARED / "corpus" / "feeds" / "real"


@dataclass(frozen=True, slots=True)
class BenchOptions:
    corpus: Path = DEFAULT_CORPUS
    news_only: bool = True  # only files marked news_publisher=yes in INDEX.tsv
    max_feeds: int | None = None
    rules: int = 1000  # saved rules during the cycles
    many_rules: int = 10000  # a cold cycle with this many rules (0: skip it)
    # Rounds of (cold cycle with many_rules, cold cycle with `rules` again) after the first cold cycle:
    # what many_rules add is their mean against the mean of the cycles with `rules` around them.
    many_rules_rounds: int = 2
    naive_fraction: float = 0.25  # share of the feeds the naive pipeline processes
    percolation_rule_counts: tuple[int, ...] = (100, 1000, 10000)
    output: Path | None = None
    keep_indices: bool = False
    # Share of the feeds an untimed cycle runs first, to warm Elasticsearch's JVM up (0: none).
    warm_up_share: float = 0.2


def select_feed_files(options: BenchOptions) -> list[Path]:
    index = options.corpus / "INDEX.tsv"
    if options.news_only and index.exists():
        with index.open(encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream, delimiter="\t"))
        names = [row["file"] for row in rows if row.get("news_publisher") == "yes"]
        files = [options.corpus / name for name in names]
    else:
        files = sorted(p for p in options.corpus.iterdir() if p.is_file() and p.name != "INDEX.tsv")
    return files[: options.max_feeds] if options.max_feeds else files


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def unpacked_feeds(files: Sequence[Path], folder: Path) -> list[Path]:
    """Copies of the corpus feed `files` in a new `folder`, gzipped ones unpacked (the corpus keeps
    some as .gz; a feed server serves them as published), sorted by name."""
    folder.mkdir()
    for path in files:
        data = path.read_bytes()
        (folder / path.name.removesuffix(".gz")).write_bytes(
            gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return sorted(folder.iterdir())


@contextmanager
def serve_directory(folder: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 (Last-Modified and If-Modified-Since → 304 included)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class PeakMemory:
    """Samples the memory of a process and all its descendants; keeps the peak sums.

    Two figures: the sum of resident sets (RSS), which counts pages shared by forked NER workers once
    per process, and the sum of proportional set sizes (PSS), which splits shared pages between the
    processes sharing them: the memory the process tree really holds."""

    # Reading a process's memory map costs a few ms of CPU; sampling every 0.1 s took ~10% of a core
    # from the cycle it measured.
    def __init__(self, pid: int, interval: float = 0.5) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self._interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                processes = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return
            rss = pss = 0
            for process in processes:
                with suppress(psutil.Error):  # a child may exit between listing and reading
                    info = process.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(self._interval)

    def stop(self) -> tuple[int, int]:
        """(peak RSS sum, peak PSS sum) in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak_rss, self.peak_pss


def cpu_seconds(who: int) -> float:
    """User + system CPU of this process (RUSAGE_SELF) or of its finished, reaped descendants
    (RUSAGE_CHILDREN: a child's own children count once it has waited for them)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# Benchmarks run on an Elasticsearch younger than this gave inflated, unstable figures (see
# docs/benchmark.md); the benchmark warns.
FRESH_ELASTICSEARCH_SECONDS = 30 * 60


def elasticsearch_uptime_seconds(client: Any) -> float:
    """How long the youngest node's JVM has run."""
    stats = client.nodes.stats(metric="jvm")["nodes"]
    return min(node["jvm"]["uptime_in_millis"] for node in stats.values()) / 1000


def elasticsearch_cpu_seconds(client: Any) -> float:
    """CPU Elasticsearch has used so far (all nodes)."""
    stats = client.nodes.stats(metric="process")["nodes"]
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats.values()) / 1000


def run_cycle_subprocess(feeds_file: Path, env: dict[str, str], client: Any = None) -> dict[str, Any]:
    """`newsflow run --json` in a fresh process: wall time, CPU (its processes and, given a client,
    Elasticsearch's), peak memory, the report."""
    es_before = elasticsearch_cpu_seconds(client) if client is not None else 0.0
    children_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "-q", "run", "--feeds", str(feeds_file), "--json"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    memory = PeakMemory(process.pid)
    out, err = process.communicate()
    peak_rss, peak_pss = memory.stop()
    seconds = time.perf_counter() - started
    cpu = {"processes": cpu_seconds(resource.RUSAGE_CHILDREN) - children_before}
    if client is not None:
        cpu["elasticsearch"] = elasticsearch_cpu_seconds(client) - es_before
    if process.returncode != 0:
        raise RuntimeError(f"newsflow run failed (exit {process.returncode}): {err[-3000:]}")
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_bytes": peak_rss,
            "peak_pss_bytes": peak_pss, "report": json.loads(out)}


def wait_until_quiet(client: Any, *, below: float = 0.05, timeout: float = 90.0) -> float:
    """Wait until Elasticsearch's own CPU use (merging, refreshing after heavy writes) is below
    `below` cores, so it does not steal time from the next timed phase. Returns the seconds waited.

    The limit runs right after cycles that wrote tens of thousands of documents; measured while
    Elasticsearch was still merging them it came out 15 % slower, which flattered the ratio."""
    started = time.perf_counter()
    last: int | None = None
    last_at = started
    while time.perf_counter() - started < timeout:
        stats = client.nodes.stats(metric="process")["nodes"]
        total = sum(node["process"]["cpu"]["total_in_millis"] for node in stats.values())
        now = time.perf_counter()
        if last is not None and (total - last) / 1000 / (now - last_at) < below:
            break
        last, last_at = total, now
        time.sleep(1.0)
    return time.perf_counter() - started


def warm_up_elasticsearch(
    client: Any, settings: Settings, served_files: Sequence[Path], base_url: str, scratch: Path,
    env: dict[str, str], vocabulary: Sequence[Article], share: float,
) -> dict[str, Any] | None:
    """An untimed cycle over a share of the feeds, under a prefix and home of its own, with rules.

    A benchmark started right after `newsflow stack up` saw Elasticsearch spend 43-56 CPU-s per
    cycle instead of 14-36, the first cold cycle taking 1.3x the limit instead of 1.0-1.1x. This
    cycle (~20 s) took that to 1.18x in the one run that tried it, so it helps but does not cure a
    fresh JVM; hence also the warning on Elasticsearch's uptime (see docs/benchmark.md)."""
    from newsflow.app.indices import ensure_all
    from newsflow.dev.bench_alerts import create_rules

    count = max(1, round(len(served_files) * share)) if share > 0 else 0
    if not count:
        return None
    prefix = f"{settings.index_prefix}-warm"
    warm_settings = settings.model_copy(update={"index_prefix": prefix})
    ensure_all(client, warm_settings)
    create_rules(client, warm_settings, 1000, vocabulary, channel=f"log:{scratch / 'alerts-warm.jsonl'}")
    feeds_file = scratch / "feeds-warm.yaml"
    feeds_file.write_text(
        "feeds:\n" + "".join(f"  - url: {base_url}/{p.name}\n" for p in served_files[:count]))
    home = scratch / "home-warm"
    home.mkdir(exist_ok=True)
    started = time.perf_counter()
    cycle = run_cycle_subprocess(
        feeds_file, {**env, "NEWSFLOW_HOME": str(home), "NEWSFLOW_INDEX_PREFIX": prefix})
    seconds = time.perf_counter() - started
    delete_prefix(client, prefix)
    return {"feeds": count, "articles": cycle["report"]["indexed"], "seconds": round(seconds, 2)}


def stored_articles(client: Any, settings: Settings, limit: int | None = None) -> list[Article]:
    from elasticsearch import helpers

    alias = settings.index_name("articles")
    client.indices.refresh(index=alias)
    articles = []
    for hit in helpers.scan(client, index=alias, query={"query": {"match_all": {}}}, size=1000):
        articles.append(Article.from_document(hit["_id"], hit["_source"]))
        if limit and len(articles) >= limit:
            break
    return articles


def parsed_articles(paths: Sequence[Path]) -> list[Article]:
    """The articles in feed files, parsed and normalised but not enriched (rule vocabulary)."""
    from datetime import UTC, datetime

    from ingest.normalise import normalise_feed
    from ingest.parse import parse_feed
    from ingest.types import FeedSpec
    from newsflow.core.errors import ParseError

    articles: list[Article] = []
    for path in paths:
        spec = FeedSpec(url=str(path))
        try:
            feed = parse_feed(path.read_bytes(), url=spec.url)
        except ParseError:
            continue
        articles += normalise_feed(spec, feed, spec.url, datetime.now(UTC))[0]
    return articles


def measure_limit(settings: Settings, texts: Sequence[str], *, components: bool = True) -> dict[str, Any]:
    """spaCy's raw nlp.pipe with the pipeline's own model and components, on all cores.

    `components=False` leaves newsflow's two components out (entity canonicalizer, topic evidence):
    NER alone, a stricter reference than the issue's "same model and components"."""
    from enrich.ner import load_nlp
    from enrich.pipeline import build_pipeline

    nlp = build_pipeline(settings) if components else load_nlp(settings)
    cores = os.cpu_count() or 1
    words = sum(len(text.split()) for text in texts)
    self_before, children_before = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=settings.enrich.batch_size,
                         n_process=cores if len(texts) >= 200 else 1):
        pass
    seconds = time.perf_counter() - started
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:  # reap spaCy's workers
        time.sleep(0.05)
    cpu = (cpu_seconds(resource.RUSAGE_SELF) - self_before
           + cpu_seconds(resource.RUSAGE_CHILDREN) - children_before)
    return {"texts": len(texts), "words": words, "seconds": seconds, "cpu_seconds": cpu,
            "processes": cores, "pipeline": list(nlp.pipe_names),
            "words_per_s": words / seconds if seconds else 0.0}


def measure_enrichment(settings: Settings, articles: Sequence[Article]) -> dict[str, Any]:
    """Words/s of the whole enrichment stage against raw nlp.pipe on the same texts and cores."""
    from enrich.ner import ner_text
    from enrich.pipeline import Enricher

    enricher = Enricher(settings)
    enricher.enrich(articles[:5])  # load the model outside the timing
    texts = [ner_text(article) for article in articles]
    words = sum(len(text.split()) for text in texts)
    started = time.perf_counter()
    enricher.enrich(articles)
    enrich_seconds = time.perf_counter() - started
    raw = measure_limit(settings, texts)
    return {
        "articles": len(articles),
        "words": words,
        "enrich_words_per_s": words / enrich_seconds if enrich_seconds else 0.0,
        "raw_nlp_pipe_words_per_s": raw["words_per_s"],
        "enrich_over_raw_time": enrich_seconds / raw["seconds"] if raw["seconds"] else 0.0,
    }


def run_naive(base_url: str, files: Sequence[Path], client: Any, index: str,
              settings: Settings) -> dict[str, Any]:
    """The reference a first implementation would write: sequential, no caching, per-item calls."""
    import feedparser
    import httpx
    import spacy

    from enrich.ner import model_location

    started = time.perf_counter()
    nlp = spacy.load(model_location(settings))  # the default pipeline: every component
    articles = words = 0
    for path in files:
        response = httpx.get(f"{base_url}/{path.name}", timeout=30)
        parsed = feedparser.parse(response.content)
        for entry in parsed.entries:
            title = entry.get("title", "")
            body = entry.get("summary", "")
            if entry.get("content"):
                body = entry["content"][0].get("value", body)
            doc = nlp(f"{title}\n\n{body}")
            entities = [ent.text for ent in doc.ents]
            client.index(index=index, document={"title": title, "body": body, "entities": entities})
            articles += 1
            words += len(title.split()) + len(body.split())
    seconds = time.perf_counter() - started
    return {"feeds": len(files), "articles": articles, "words": words, "seconds": seconds,
            "seconds_per_article": seconds / articles if articles else 0.0}


def run_bench(options: BenchOptions, settings: Settings,
              say: Callable[[str], None] = lambda message: print(message, file=sys.stderr)) -> dict[str, Any]:
    from newsflow.app.indices import ensure_all
    from newsflow.core.es import make_client
    from newsflow.dev.bench_alerts import create_rules, percolation_cost
    from newsflow.dev.bench_ingest import parse_throughput

    files = select_feed_files(options)
    if not files:
        raise FileNotFoundError(f"no feed files under {options.corpus}")
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    settings = settings.model_copy(update={"index_prefix": prefix})
    client = make_client(settings)
    uptime = elasticsearch_uptime_seconds(client)
    results: dict[str, Any] = {"corpus": str(options.corpus), "feeds": len(files),
                               "cores": os.cpu_count(), "index_prefix": prefix,
                               "elasticsearch_uptime_seconds": round(uptime)}
    if uptime < FRESH_ELASTICSEARCH_SECONDS:
        say(f"warning: Elasticsearch started {uptime:.0f} s ago. A JVM this fresh spent 1.5-3x the CPU "
            "on the cycles in our runs, even after the warm-up cycle: the figures will be inflated and "
            "the ratios between cycles unreliable (see docs/benchmark.md)")
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as scratch:
        served = Path(scratch) / "feeds"
        served_files = unpacked_feeds(files, served)
        home = Path(scratch) / "home"
        home.mkdir()
        env = {
            "NEWSFLOW_ES_URL": settings.es_url,
            "NEWSFLOW_INDEX_PREFIX": prefix,
            "NEWSFLOW_HOME": str(home),
            "NEWSFLOW_FETCH__POLITENESS_DELAY": "0",
            # The benchmark's feed server listens on 127.0.0.1, which the address policy refuses by default.
            "NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
            "NEWSFLOW_FETCH__PER_HOST_CONCURRENCY": "8",
        }
        quiet_seconds = 0.0  # spent waiting for Elasticsearch to settle between timed phases
        try:
            with serve_directory(served) as base_url:
                feeds_file = Path(scratch) / "feeds.yaml"
                feeds_file.write_text(
                    "feeds:\n" + "".join(f"  - url: {base_url}/{p.name}\n" for p in served_files))
                ensure_all(client, settings)
                say(f"saving {options.rules} alert rules drawn from the feeds' vocabulary")
                vocabulary = parsed_articles(served_files)
                create_rules(client, settings, options.rules, vocabulary,
                             channel=f"log:{Path(scratch) / 'alerts.jsonl'}")

                warm_up = warm_up_elasticsearch(client, settings, served_files, base_url, Path(scratch),
                                                env, vocabulary, options.warm_up_share)
                if warm_up is not None:
                    results["warm_up"] = warm_up
                    say(f"warmed Elasticsearch up: an untimed cycle over {warm_up['feeds']} feeds")
                quiet_seconds += wait_until_quiet(client)
                say(f"cold cycle over {len(served_files)} feeds")
                cold = run_cycle_subprocess(feeds_file, env, client)
                quiet_seconds += wait_until_quiet(client)
                say("second cycle, nothing changed")
                warm = run_cycle_subprocess(feeds_file, env)
                rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (many rules, rules again)
                if options.many_rules:
                    def cold_cycle_from_scratch(suffix: str, rules: int) -> dict[str, Any]:
                        """The same cold cycle with a prefix and home of its own, and `rules` rules."""
                        nonlocal quiet_seconds
                        other = settings.model_copy(update={"index_prefix": f"{prefix}-{suffix}"})
                        ensure_all(client, other)
                        create_rules(client, other, rules, vocabulary,
                                     channel=f"log:{Path(scratch) / f'alerts-{suffix}.jsonl'}")
                        other_home = Path(scratch) / f"home-{suffix}"
                        other_home.mkdir()
                        quiet_seconds += wait_until_quiet(client)
                        return run_cycle_subprocess(feeds_file, {**env, "NEWSFLOW_HOME": str(other_home),
                                                                 "NEWSFLOW_INDEX_PREFIX": other.index_prefix},
                                                    client)

                    # Single cycles on this VM differ by up to ±10 % in CPU, and the machine drifts
                    # over a run (Elasticsearch's JVM keeps warming up, neighbours come and go): the
                    # many-rules cycles alternate with cycles with the first one's rules, and are
                    # compared with the mean of those.
                    for number in range(1, max(1, options.many_rules_rounds) + 1):
                        say(f"cold cycle again, with {options.many_rules} rules (round {number})")
                        many = cold_cycle_from_scratch(f"many{number}", options.many_rules)
                        say(f"cold cycle again, with {options.rules} rules (round {number})")
                        rounds.append((many, cold_cycle_from_scratch(f"again{number}", options.rules)))

                articles = stored_articles(client, settings)
                from enrich.ner import ner_text

                texts = [ner_text(article) for article in articles]
                quiet_seconds += wait_until_quiet(client)
                say(f"the limit: nlp.pipe over {len(texts)} texts, NER and newsflow's components")
                limit = measure_limit(settings, texts)
                quiet_seconds += wait_until_quiet(client)
                say("the same with NER alone")
                limit_ner_only = measure_limit(settings, texts, components=False)

                sample = served_files[:: max(1, round(1 / options.naive_fraction))]
                naive_index = f"{prefix}-naive"
                client.indices.create(index=naive_index)
                quiet_seconds += wait_until_quiet(client)
                say(f"naive pipeline over {len(sample)} feeds")
                naive = run_naive(base_url, sample, client, naive_index, settings)
                client.indices.delete(index=naive_index)

                quiet_seconds += wait_until_quiet(client)
                say("percolation cost")
                percolation = percolation_cost(
                    client, settings.model_copy(update={"index_prefix": prefix + "-perc"}),
                    articles[:1000], options.percolation_rule_counts,
                    channel=f"log:{Path(scratch) / 'alerts-percolation.jsonl'}")
                say("parse and enrichment throughput")
                parse = parse_throughput(
                    sorted(p for p in options.corpus.iterdir() if p.is_file() and p.name != "INDEX.tsv"))
                enrichment = measure_enrichment(settings, articles[:300])
        finally:
            if not options.keep_indices:
                delete_prefix(client, prefix)
    client.close()

    cycle_articles = cold["report"]["indexed"] or 1
    cycle_per_article = cold["seconds"] / cycle_articles
    per_1000_cycle = cycle_per_article * 1000
    ten_k = percolation.get("10000", {}).get("seconds_per_1000_articles")
    colds = [cold, *(again for _, again in rounds)]
    cold_seconds = [cycle["seconds"] for cycle in colds]
    cold_cpu = [sum(cycle["cpu_seconds"].values()) for cycle in colds]
    many_seconds = [many["seconds"] for many, _ in rounds]
    many_cpu = [sum(many["cpu_seconds"].values()) for many, _ in rounds]
    first_many = rounds[0][0] if rounds else {}
    results.update({
        "waited_for_quiet_seconds": round(quiet_seconds, 1),
        "cold_cycle": {"seconds": round(cold["seconds"], 2), "report": cold["report"],
                       "cpu_seconds": _rounded(cold["cpu_seconds"]),
                       "peak_pss_mb": round(cold["peak_pss_bytes"] / 2**20, 1),
                       "peak_rss_sum_mb": round(cold["peak_rss_bytes"] / 2**20, 1)},
        # The first many-rules cycle in full (its report and stage times, memory).
        "cold_cycle_many_rules": None if not rounds else {
            "rules": options.many_rules, "seconds": round(first_many["seconds"], 2),
            "report": first_many["report"], "cpu_seconds": _rounded(first_many["cpu_seconds"]),
            "peak_pss_mb": round(first_many["peak_pss_bytes"] / 2**20, 1)},
        # Every round: the many-rules cycle and the cycle with the cycle's rules after it.
        "many_rules_rounds": [
            {name: {"rules": rules, "seconds": round(cycle["seconds"], 2),
                    "cpu_seconds": _rounded(cycle["cpu_seconds"]), "alerts": cycle["report"]["alerts"]}
             for name, rules, cycle in (("many_rules", options.many_rules, many),
                                        ("rules_again", options.rules, again))}
            for many, again in rounds],
        "second_cycle": {"seconds": round(warm["seconds"], 2), "report": warm["report"],
                         "peak_pss_mb": round(warm["peak_pss_bytes"] / 2**20, 1),
                         "peak_rss_sum_mb": round(warm["peak_rss_bytes"] / 2**20, 1)},
        "limit": _rounded(limit),
        "limit_ner_only": _rounded(limit_ner_only),
        "naive": _rounded(naive),
        "percolation": percolation,
        "parse": parse,
        "enrichment": _rounded(enrichment),
        "ratios": {
            "cycle_over_limit": round(cold["seconds"] / limit["seconds"], 3),
            "cycle_over_ner_only_limit": round(cold["seconds"] / limit_ner_only["seconds"], 3),
            # Work rather than time (less sensitive to a noisy machine): CPU of the cycle's processes
            # plus Elasticsearch's during the cycle, over the CPU of the limit's processes.
            "cycle_cpu_over_limit_cpu": round(sum(cold["cpu_seconds"].values()) / limit["cpu_seconds"], 3),
            "cycle_cpu_over_ner_only_limit_cpu": round(
                sum(cold["cpu_seconds"].values()) / limit_ner_only["cpu_seconds"], 3),
            "naive_over_cycle_per_article": round(naive["seconds_per_article"] / cycle_per_article, 2),
            "second_over_first": round(warm["seconds"] / cold["seconds"], 4),
            # What going from the cycle's rules to many_rules adds to the same cold cycle: the mean of
            # the many-rules cycles against the mean of the cycles with the cycle's rules.
            "many_rules_added_share": (round(_mean(many_seconds) / _mean(cold_seconds) - 1, 4)
                                       if rounds else None),
            "many_rules_added_cpu_share": (round(_mean(many_cpu) / _mean(cold_cpu) - 1, 4)
                                           if rounds else None),
            # Each round's many-rules cycle against the two cycles around it: the spread.
            "many_rules_added_share_by_round": [
                round(many_seconds[k] / _mean(cold_seconds[k:k + 2]) - 1, 4) for k in range(len(rounds))],
            # The first many-rules cycle against the first cold cycle alone, as earlier runs measured it.
            "many_rules_added_share_first_only": (round(many_seconds[0] / cold["seconds"] - 1, 4)
                                                  if rounds else None),
            # Estimated: 10,000 rules' matching and recording alone (per 1,000 articles, nothing else
            # running) over the cold cycle's time per 1,000 articles.
            "rules_10000_matching_share": round(ten_k / per_1000_cycle, 4) if ten_k else None,
        },
    })
    ratios = results["ratios"]
    results["goals"] = {
        "cycle_within_1.25x_limit": ratios["cycle_over_limit"] <= 1.25,
        "naive_at_least_3x_slower": ratios["naive_over_cycle_per_article"] >= 3,
        "no_change_cycle_under_5pct": ratios["second_over_first"] < 0.05,
        "rules_10000_add_at_most_20pct": (
            ratios["many_rules_added_share"] is not None and options.many_rules >= 10000
            and ratios["many_rules_added_share"] <= 0.20),
        "peak_memory_under_1.5GB": cold["peak_pss_bytes"] < 1.5 * 2**30,
    }
    if options.output is not None:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()}

