"""`newsflow bench` end to end on a tiny corpus: it runs, reports every figure, and cleans up.

Timings are not asserted (they are what the benchmark is for); only that each was measured."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from newsflow.dev.bench import BenchOptions, run_bench

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow]


def test_the_benchmark_runs_on_a_tiny_corpus_and_reports_every_figure(
        settings: Any, es_client: Any, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for feed in sorted((REPO / "samples" / "feeds").iterdir())[:3]:
        shutil.copy(feed, corpus)
    output = tmp_path / "bench.json"
    options = BenchOptions(corpus=corpus, rules=10, many_rules=30, naive_fraction=1.0,
                           percolation_rule_counts=(5, 10), output=output)

    results = run_bench(options, settings, say=lambda _message: None)

    assert json.loads(output.read_text()) == results
    indexed = results["cold_cycle"]["report"]["indexed"]
    assert indexed > 0 and results["cold_cycle"]["report"]["failures"] == []
    assert results["second_cycle"]["report"]["articles"]["new"] == 0
    assert results["elasticsearch_uptime_seconds"] > 0
    assert results["warm_up"]["feeds"] == 1 and results["warm_up"]["articles"] > 0
    assert results["cold_cycle_many_rules"]["report"]["indexed"] == indexed
    rounds = results["many_rules_rounds"]
    assert [(r["many_rules"]["rules"], r["rules_again"]["rules"]) for r in rounds] == [(30, 10), (30, 10)]
    assert all(r["rules_again"]["alerts"] == results["cold_cycle"]["report"]["alerts"] for r in rounds)
    assert results["limit"]["texts"] == indexed
    assert results["limit"]["pipeline"][0] == "ner" and len(results["limit"]["pipeline"]) == 3
    assert results["limit_ner_only"]["pipeline"] == ["ner"]
    assert results["naive"]["feeds"] == 3 and results["naive"]["articles"] > 0
    assert list(results["percolation"]) == ["5", "10"]
    assert results["parse"]["items"] > 0
    ratios = results["ratios"]
    assert all(ratios[k] > 0 for k in ("cycle_over_limit", "cycle_over_ner_only_limit",
                                       "naive_over_cycle_per_article", "second_over_first"))
    assert isinstance(ratios["many_rules_added_share"], float)
    assert isinstance(ratios["many_rules_added_share_first_only"], float)
    assert len(ratios["many_rules_added_share_by_round"]) == 2
    assert ratios["cycle_cpu_over_limit_cpu"] > 0
    assert results["cold_cycle"]["cpu_seconds"]["elasticsearch"] > 0
    assert ratios["rules_10000_matching_share"] is None  # measured only with 10,000 rules
    assert set(results["goals"]) == {
        "cycle_within_1.25x_limit", "naive_at_least_3x_slower", "no_change_cycle_under_5pct",
        "rules_10000_add_at_most_20pct", "peak_memory_under_1.5GB"}
    assert results["goals"]["rules_10000_add_at_most_20pct"] is False  # 30 rules say nothing of 10,000
    assert results["cold_cycle"]["peak_pss_mb"] > 0
    assert es_client.indices.get(index=f"{results['index_prefix']}*") == {}  # nothing left behind
