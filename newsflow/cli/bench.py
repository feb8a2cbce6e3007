"""`newsflow bench`: the end-to-end benchmark."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from newsflow.core.settings import load_settings
from newsflow.dev.bench import DEFAULT_CORPUS, BenchOptions, run_bench
from newsflow.dev.bench_airflow import DEFAULT_FEEDS, AirflowBenchOptions, run_airflow_bench
from newsflow.dev.bench_latency import (
    DEFAULT_DURATION,
    DEFAULT_MEAN_GAP,
    DEFAULT_PUBLISHER_INTERVAL,
    LatencyBenchOptions,
    run_latency_bench,
)
from newsflow.dev.bench_latency import DEFAULT_FEEDS as DEFAULT_LATENCY_FEEDS


@click.command("bench")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_CORPUS,
              show_default=True, help="Folder of feed files to serve (with an optional INDEX.tsv).")
@click.option("--all-feeds", is_flag=True, help="Every file, not only those marked news_publisher=yes.")
@click.option("--max-feeds", type=int, help="At most this many feed files.")
@click.option("--rules", type=int, default=1000, show_default=True, help="Saved rules during the cycles.")
@click.option("--many-rules", type=int, default=10000, show_default=True,
              help="Run the cold cycle again with this many rules, for what they add (0: skip).")
@click.option("--many-rules-rounds", type=int, default=2, show_default=True,
              help="Rounds of (a cycle with --many-rules, a cycle with --rules again) after the first "
                   "cold cycle; their means are compared.")
@click.option("--naive-fraction", type=float, default=0.25, show_default=True,
              help="Share of the feeds the naive reference pipeline processes.")
@click.option("--percolation-rules", default="100,1000,10000", show_default=True,
              help="Rule counts for the percolation measurement.")
@click.option("--warm-up-share", type=float, default=0.2, show_default=True,
              help="Share of the feeds an untimed cycle runs first, to warm Elasticsearch's JVM (0: none).")
@click.option("--airflow", "scheduled", is_flag=True,
              help="The scheduled path instead: the CLI cycle against a triggered news_ingest run on a "
                   "local Airflow of the benchmark's own (PostgreSQL, LocalExecutor), then a no-change "
                   "DAG run, and the share of its wall time that is scheduling and task start-up.")
@click.option("--airflow-latency", "latency", is_flag=True,
              help="Freshness instead: a local feed server publishes items at random moments into "
                   "--feeds feeds for --duration seconds while a local Airflow runs news_ingest on its "
                   "schedule (only the due feeds); p50/p95/max from an item's appearance to searchable "
                   "and to its alert (one rule matching every item, delivered to a local webhook).")
@click.option("--feeds", type=int, default=None,
              help=f"With --airflow: the corpus subset, this many feed files (default {DEFAULT_FEEDS}); "
                   f"with --airflow-latency: feeds published into (default {DEFAULT_LATENCY_FEEDS}, "
                   "3 per loopback host).")
@click.option("--duration", type=float, default=DEFAULT_DURATION, show_default=True,
              help="With --airflow-latency: seconds of publishing (then up to 2 poll intervals + 3 min "
                   "for the last items); 120 is a smoke test.")
@click.option("--mean-gap", type=float, default=DEFAULT_MEAN_GAP, show_default=True,
              help="With --airflow-latency: mean seconds between two items of one feed (Poisson).")
@click.option("--publisher-interval", type=int, default=DEFAULT_PUBLISHER_INTERVAL, show_default=True,
              help="With --airflow-latency: the poll interval each feed allows (Cache-Control max-age "
                   "and <ttl>); also the benchmark's fetch.min_interval, at least 60.")
@click.option("--schedule", default="1m", show_default=True,
              help="With --airflow-latency: news_ingest's schedule (NEWSFLOW_INGEST_SCHEDULE).")
@click.option("--pushed", type=int, default=0, show_default=True,
              help="With --airflow-latency: this many more feeds announce a local WebSub hub, are "
                   "subscribed and pushed at each publication, processed by 'newsflow push process "
                   "--watch'; their latency is reported beside the polled feeds' (issue 21).")
@click.option("--push-processor", type=click.Choice(["watch", "dag"]), default="watch", show_default=True,
              help="With --pushed: 'newsflow push process --watch', or the news_push DAG of the "
                   "benchmark's Airflow (event-driven on the receiver's marker).")
@click.option("--drain", type=float, default=None,
              help="With --airflow-latency: seconds to wait after the last publication for the items "
                   "still on their way (default 2 poll intervals + 3 min).")
@click.option("--shard-size", type=int, default=None,
              help="With --airflow: feeds per mapped shard task (default: the DAG's, 50).")
@click.option("--airflow-warm-up/--no-airflow-warm-up", default=True, show_default=True,
              help="With --airflow: an untimed DAG run over no feeds before the timed ones.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JSON (default bench-results/bench-<time>.json, "
                   "bench-results/bench-airflow-<time>.json with --airflow, "
                   "bench-results/bench-latency-<time>.json with --airflow-latency).")
def command(corpus: Path, all_feeds: bool, max_feeds: int | None, rules: int, many_rules: int,
            many_rules_rounds: int, naive_fraction: float, percolation_rules: str, warm_up_share: float,
            scheduled: bool, latency: bool, feeds: int | None, duration: float, mean_gap: float,
            publisher_interval: int, schedule: str, pushed: int, push_processor: str, drain: float | None,
            shard_size: int | None, airflow_warm_up: bool, output: Path | None) -> None:
    """Measure a cold cycle, a no-change cycle, the NER limit, a naive pipeline, percolation cost,
    memory, parse and enrichment throughput against the local Elasticsearch; print one JSON object
    with the figures and ratios and write it to a file. Takes several minutes on the full corpus.

    With --airflow: the CLI cycle against news_ingest on a local Airflow over --feeds feeds (about
    4 minutes for 30 feeds on two cores, Airflow's start-up included).

    With --airflow-latency: publish-to-searchable and publish-to-alert latency on a local Airflow's
    schedule (--duration plus about 5 minutes for the start, the backlog and the last items)."""
    stamp = time.strftime('%Y%m%dT%H%M%S')
    if latency:
        if publisher_interval < 60:
            raise click.BadParameter("at least 60 s (the floor of every poll interval)",
                                     param_hint="--publisher-interval")
        latency_options = LatencyBenchOptions(
            feeds=feeds or DEFAULT_LATENCY_FEEDS, duration=duration, mean_gap=mean_gap,
            publisher_interval=publisher_interval, schedule=schedule, corpus=corpus,
            pushed=max(0, pushed), push_processor=push_processor, drain=drain,
            output=output or Path("bench-results") / f"bench-latency-{stamp}.json")
        latency_results = run_latency_bench(latency_options, load_settings())
        click.echo(json.dumps(latency_results, indent=2))
        click.echo(f"written to {latency_options.output}", err=True)
        return
    if scheduled:
        airflow_options = AirflowBenchOptions(
            corpus=corpus, news_only=not all_feeds, feeds=feeds or DEFAULT_FEEDS, rules=rules,
            shard_size=shard_size, warm_up=airflow_warm_up,
            output=output or Path("bench-results") / f"bench-airflow-{stamp}.json")
        airflow_results = run_airflow_bench(airflow_options, load_settings())
        click.echo(json.dumps(airflow_results, indent=2))
        click.echo(f"written to {airflow_options.output}", err=True)
        return
    options = BenchOptions(
        corpus=corpus, news_only=not all_feeds, max_feeds=max_feeds, rules=rules, many_rules=many_rules,
        many_rules_rounds=many_rules_rounds, naive_fraction=naive_fraction, warm_up_share=warm_up_share,
        percolation_rule_counts=tuple(int(n) for n in percolation_rules.split(",") if n.strip()),
        output=output or Path("bench-results") / f"bench-{stamp}.json",
    )
    results = run_bench(options, load_settings())
    click.echo(json.dumps(results, indent=2))
    click.echo(f"written to {options.output}", err=True)
