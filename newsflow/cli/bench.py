"""`newsflow bench`: the end-to-end benchmark."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from newsflow.core.settings import load_settings
from newsflow.dev.bench import DEFAULT_CORPUS, BenchOptions, run_bench
from newsflow.dev.bench_airflow import DEFAULT_FEEDS, AirflowBenchOptions, run_airflow_bench


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
@click.option("--feeds", type=int, default=DEFAULT_FEEDS, show_default=True,
              help="With --airflow: the corpus subset, this many feed files.")
@click.option("--shard-size", type=int, default=None,
              help="With --airflow: feeds per mapped shard task (default: the DAG's, 50).")
@click.option("--airflow-warm-up/--no-airflow-warm-up", default=True, show_default=True,
              help="With --airflow: an untimed DAG run over no feeds before the timed ones.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JSON (default bench-results/bench-<time>.json, "
                   "bench-results/bench-airflow-<time>.json with --airflow).")
def command(corpus: Path, all_feeds: bool, max_feeds: int | None, rules: int, many_rules: int,
            many_rules_rounds: int, naive_fraction: float, percolation_rules: str, warm_up_share: float,
            scheduled: bool, feeds: int, shard_size: int | None, airflow_warm_up: bool,
            output: Path | None) -> None:
    """Measure a cold cycle, a no-change cycle, the NER limit, a naive pipeline, percolation cost,
    memory, parse and enrichment throughput against the local Elasticsearch; print one JSON object
    with the figures and ratios and write it to a file. Takes several minutes on the full corpus.

    With --airflow: the CLI cycle against news_ingest on a local Airflow over --feeds feeds (about
    4 minutes for 30 feeds on two cores, Airflow's start-up included)."""
    if scheduled:
        airflow_options = AirflowBenchOptions(
            corpus=corpus, news_only=not all_feeds, feeds=feeds, rules=rules, shard_size=shard_size,
            warm_up=airflow_warm_up,
            output=output or Path("bench-results") / f"bench-airflow-{time.strftime('%Y%m%dT%H%M%S')}.json")
        airflow_results = run_airflow_bench(airflow_options, load_settings())
        click.echo(json.dumps(airflow_results, indent=2))
        click.echo(f"written to {airflow_options.output}", err=True)
        return
    options = BenchOptions(
        corpus=corpus, news_only=not all_feeds, max_feeds=max_feeds, rules=rules, many_rules=many_rules,
        many_rules_rounds=many_rules_rounds, naive_fraction=naive_fraction, warm_up_share=warm_up_share,
        percolation_rule_counts=tuple(int(n) for n in percolation_rules.split(",") if n.strip()),
        output=output or Path("bench-results") / f"bench-{time.strftime('%Y%m%dT%H%M%S')}.json",
    )
    results = run_bench(options, load_settings())
    click.echo(json.dumps(results, indent=2))
    click.echo(f"written to {options.output}", err=True)
