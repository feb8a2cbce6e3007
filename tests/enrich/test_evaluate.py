"""The gold-set evaluation (tests/enrich/evaluate.py): strict entity scoring and main-topic accuracy.

The figures in docs/enrich.md come from this code, so it is specified here on hand-made examples
whose right answers are worked out by hand, and run once on real gold articles with the real model.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from newsflow.core.models import TopicScore
from tests.enrich.evaluate import (
    GOLD_SETS,
    Counts,
    GoldEntry,
    entity_table_resolver,
    evaluate,
    facet_counts,
    gold_articles,
    identity_resolver,
    load_gold_entries,
)

TOP = frozenset({"politics", "sport", "conflict, war and peace"})


def entry(split: str = "tuning", **facets: Any) -> GoldEntry:
    values = {"persons": (), "organizations": (), "locations": (), "topics": ("politics",), **facets}
    return GoldEntry(file="f.xml", index=0, url="https://example.org/a", split=split,
                     **{k: tuple(v) for k, v in values.items()})


def test_a_bare_surname_beside_the_full_name_is_a_false_positive() -> None:
    counts, false_pos, false_neg = facet_counts(
        ["Vladimir Putin", "Volodymyr Zelensky"], ["Vladimir Putin", "Putin"], "persons", identity_resolver)
    assert counts == Counts(true_positives=1, predicted=2, expected=2)
    assert (counts.precision, counts.recall) == (0.5, 0.5)
    assert false_pos == ("Putin",) and false_neg == ("Volodymyr Zelensky",)


def test_a_second_spelling_is_a_false_positive_and_a_repeated_value_counts_once() -> None:
    counts, false_pos, _ = facet_counts(["Kyiv"], ["Kyiv", "Kiev", "Kyiv"], "locations", identity_resolver)
    assert counts == Counts(true_positives=1, predicted=2, expected=1)
    assert false_pos == ("Kiev",)


def test_gold_spellings_go_through_the_entity_table_in_their_own_facet_only() -> None:
    table = {("locations", "Kiev"): "Kyiv", ("locations", "Apple"): "Apple Valley"}

    def resolve(facet: str, name: str) -> str:
        return table.get((facet, name), name)

    kyiv, _, _ = facet_counts(["Kiev"], ["Kyiv"], "locations", resolve)
    apple, _, _ = facet_counts(["Apple"], ["Apple"], "organizations", resolve)
    assert kyiv.true_positives == 1 and apple.true_positives == 1


def test_curly_and_straight_apostrophes_are_one_name() -> None:
    counts, _, _ = facet_counts(["Cortina d’Ampezzo"], ["Cortina d'Ampezzo"], "locations", identity_resolver)
    assert counts.true_positives == 1


def test_an_empty_facet_on_both_sides_is_perfect_and_f1_follows_p_and_r() -> None:
    nothing, _, _ = facet_counts([], [], "persons", identity_resolver)
    assert (nothing.precision, nothing.recall) == (1.0, 1.0)
    half = Counts(true_positives=1, predicted=2, expected=4)
    assert (half.precision, half.recall) == (0.5, 0.25)
    assert half.f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)


def test_parts_are_scored_apart_and_together_with_main_topics(offline_settings: Any) -> None:
    from newsflow.core.models import Article

    base = Article(id="x", url="https://example.org/a", title="t", summary="", body="b", source="s",
                   feed_url="f", published_at=_when(), ingested_at=_when())
    entries = [
        entry("tuning", persons=["Keir Starmer"], locations=["London"], topics=["politics"]),
        entry("heldout", organizations=["NATO"], topics=["conflict, war and peace", "politics"]),
    ]
    enriched = [
        dataclasses.replace(base, persons=("Keir Starmer", "Starmer"), locations=("London",),
                            topic_scores=(TopicScore("economy", 0.9), TopicScore("politics", 0.5))),
        dataclasses.replace(base, organizations=("NATO", "Nato Summit"),
                            topic_scores=(TopicScore("politics", 0.8),)),
    ]
    reports = evaluate(entries, enriched, identity_resolver, top_level=TOP)
    tuning, heldout, both = reports["tuning"], reports["heldout"], reports["all"]
    assert tuning.facets["persons"] == Counts(1, 2, 1)
    assert tuning.facets["locations"] == Counts(1, 1, 1)
    assert heldout.facets["organizations"] == Counts(1, 2, 1)
    assert both.facets["persons"] + both.facets["organizations"] == Counts(2, 4, 2)
    # "economy" is not top level here, so "politics" is the tuning article's best top-level topic.
    assert (tuning.main_topic_accuracy, tuning.main_topic_exact) == (1.0, 1.0)
    assert (heldout.main_topic_accuracy, heldout.main_topic_exact) == (1.0, 0.0)
    assert heldout.as_dict(with_errors=False).keys() == {
        "articles", "facets", "main_topic_accuracy", "main_topic_exact"}  # held-out errors stay hidden
    assert tuning.as_dict(with_errors=True)["errors"][0]["false_positives"] == {"persons": ["Starmer"]}


def _when() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 2, 17, tzinfo=UTC)


def test_gold_set_v2_is_large_varied_and_one_third_held_out() -> None:
    from tests.enrich.select_gold import feed_key

    entries = load_gold_entries(GOLD_SETS["v2"])
    assert len(entries) >= 150
    assert len({feed_key(e.file) for e in entries}) >= 40
    held = sum(e.split == "heldout" for e in entries)
    assert held == len(entries) // 3
    assert {e.split for e in entries} == {"tuning", "heldout"}
    data = json.loads(GOLD_SETS["v2"].read_text(encoding="utf-8"))
    assert all(set(a) == {"file", "index", "url", "title_starts", "persons", "organizations", "locations",
                          "topics", "split"} for a in data["articles"])  # references only, no text


def test_the_training_sets_share_no_article_with_the_test_set_or_each_other() -> None:
    seen = {e.url for name in ("v1", "v2") for e in load_gold_entries(GOLD_SETS[name])}
    for name in ("v3", "v4", "v5"):
        entries = load_gold_entries(GOLD_SETS[name])
        urls = {e.url for e in entries}
        assert len(urls) == len(entries) and not urls & seen, name
        assert {e.split for e in entries} == {"tuning"}  # "train" in the file: all for training
        data = json.loads(GOLD_SETS[name].read_text(encoding="utf-8"))
        assert all(set(a) == {"file", "index", "url", "title_starts", "persons", "organizations",
                              "locations", "topics", "split"} for a in data["articles"])  # no text
        seen |= urls


@pytest.mark.corpus
def test_every_gold_reference_still_points_at_its_corpus_item() -> None:
    for name in ("v1", "v2"):
        entries = load_gold_entries(GOLD_SETS[name])
        assert [a.url for a in gold_articles(entries)] == [e.url for e in entries]


@pytest.mark.corpus
@pytest.mark.slow
def test_the_real_enrichment_is_scored_on_gold_articles(enricher: Any) -> None:
    entries = load_gold_entries(GOLD_SETS["v2"])
    chosen = [e for e in entries if e.split == "tuning" and e.persons and e.locations][:2]
    enriched = enricher.enrich(gold_articles(chosen))
    reports = evaluate(chosen, enriched, entity_table_resolver())
    part = reports["tuning"]
    assert part.articles == 2 and "heldout" not in reports
    for facet, counts in part.facets.items():
        predicted = sum(len(set(getattr(a, facet))) for a in enriched)
        assert counts.predicted == predicted
        assert counts.expected == sum(len(set(e.facet(facet))) for e in chosen)
        assert 0 <= counts.true_positives <= min(counts.predicted, counts.expected)
    assert part.facets["persons"].true_positives >= 1  # the model finds some named person in them
