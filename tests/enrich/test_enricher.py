"""The Enricher with the real model: measured quality on the gold set, and its contract."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from enrich.ner import load_nlp, ner_text
from enrich.pipeline import processes_for
from enrich.version import ENRICHMENT_VERSION
from tests.enrich.corpus import corpus_article
from tests.enrich.quality import ENTITY_FACETS, facet_scores, load_gold, topic_accuracy, topic_scores

# Floors a little below what was measured on all 68 gold articles (dev + heldout; see the report);
# a regression fails these.
FLOORS = {
    # Recall measured 0.727 since photo and staff credits are cut (issue 17): this gold set annotated
    # five photographers ("AP Photo/Ronald Zak") as persons, which the contract now excludes.
    "persons": (0.75, 0.70),  # measured P 0.800, R 0.727
    "organizations": (0.47, 0.55),  # measured P 0.524, R 0.623
    "locations": (0.83, 0.85),  # measured P 0.876, R 0.907
}
# Since the learned main topic (enrich/topic_model.py, trained on none of these 68 articles): accuracy
# 0.691 -> 0.794, indexed top-level labels P 0.673 -> 0.713, R 0.687 -> 0.626 (a second top-level
# label now needs a probability of 0.2, chosen by cross-validation on the training sets).
MIN_TOPIC_ACCURACY = 0.75  # measured 0.794 (best top-level topic among the gold labels)
MIN_TOPIC_PRECISION = 0.67  # measured 0.713 (indexed top-level labels)
MIN_TOPIC_RECALL = 0.58  # measured 0.626

pytestmark = [pytest.mark.slow, pytest.mark.corpus]


@pytest.fixture(scope="module")
def gold_and_enriched(enricher: Any) -> Any:
    gold = load_gold()
    return gold, enricher.enrich([g.article for g in gold])


@pytest.mark.parametrize("facet", ENTITY_FACETS)
def test_entity_facets_do_not_regress(gold_and_enriched: Any, facet: str) -> None:
    gold, enriched = gold_and_enriched
    scores = facet_scores(gold, enriched, facet)
    print(f"{facet}: {scores}")
    min_precision, min_recall = FLOORS[facet]
    assert scores.precision >= min_precision
    assert scores.recall >= min_recall


def test_topics_do_not_regress(gold_and_enriched: Any) -> None:
    gold, enriched = gold_and_enriched
    accuracy, labels = topic_accuracy(gold, enriched), topic_scores(gold, enriched)
    print(f"topics: accuracy={accuracy:.3f} labels {labels}")
    assert accuracy >= MIN_TOPIC_ACCURACY
    assert labels.precision >= MIN_TOPIC_PRECISION
    assert labels.recall >= MIN_TOPIC_RECALL


def test_every_article_is_stamped_and_returned_in_input_order(gold_and_enriched: Any) -> None:
    gold, enriched = gold_and_enriched
    assert [a.id for a in enriched] == [g.article.id for g in gold]
    assert {a.enrichment_version for a in enriched} == {ENRICHMENT_VERSION}
    assert all(a.language == "en" for a in enriched)


def test_topic_scores_are_kept_with_their_iptc_codes(gold_and_enriched: Any) -> None:
    _, enriched = gold_and_enriched
    scores = enriched[0].topic_scores
    assert 12 <= len(scores) < 20 and all(s.qcode.startswith("medtop:") for s in scores)
    assert list(scores) == sorted(scores, key=lambda s: s.score, reverse=True)
    assert set(enriched[0].topics) <= {s.label for s in scores}


def test_a_non_english_article_gets_its_language_and_no_english_ner(enricher: Any) -> None:
    article = dataclasses.replace(
        corpus_article("headlines-gesab001__wsj__2020-05-02T1842.xml", 0),
        title="Kim Jong Un apparaît lors de l'inauguration d'une usine",
        body="Des photos publiées vendredi montrent le dirigeant nord-coréen Kim Jong Un souriant lors de "
             "l'inauguration d'une usine à Sunchon, mettant fin aux rumeurs sur sa santé.",
        language="en",  # a feed declaring English does not override the text
    )
    [result] = enricher.enrich([article])
    assert result.language == "fr"
    assert (result.persons, result.organizations, result.locations, result.topics) == ((), (), (), ())
    assert result.enrichment_version == ENRICHMENT_VERSION
    assert result.title == article.title and result.body == article.body  # never mangled


def test_progress_is_reported_up_to_the_batch_size(enricher: Any) -> None:
    articles = [g.article for g in load_gold()[:5]]
    seen: list[int] = []
    enricher.enrich(articles, on_progress=seen.append)
    assert seen[-1] == 5 and seen == sorted(seen)


def test_a_stream_yields_groups_in_order_as_they_are_done(enricher: Any) -> None:
    articles = [g.article for g in load_gold()[:10]]
    groups = list(enricher.stream(articles, group_size=4))
    assert [len(g) for g in groups] == [4, 4, 2]  # the last group is whatever is left
    assert [a for g in groups for a in g] == enricher.enrich(articles)
    assert [a.id for g in groups for a in g] == [a.id for a in articles]


def test_enrichment_sets_the_story_signature_and_bands(enricher: Any) -> None:
    from enrich.stories import story_bands, story_signature

    article = load_gold()[0].article
    [result] = enricher.enrich([article])
    assert result.story_signature == story_signature(article) != ()
    assert result.story_bands == story_bands(result.story_signature)


def test_an_empty_batch_is_fine(enricher: Any) -> None:
    assert enricher.enrich([]) == []


def test_ner_text_is_title_then_text_capped(offline_settings: Any) -> None:
    article = corpus_article("headlines-gesab001__wsj__2020-05-02T1842.xml", 0)
    assert ner_text(article).startswith(article.title + "\n\n")
    assert len(ner_text(article, max_chars=20)) == 20


def test_the_raw_pipeline_runs_only_what_ner_needs(enrich_settings: Any, enricher: Any) -> None:
    assert load_nlp(enrich_settings).pipe_names == ["ner"]
    assert enricher.nlp.pipe_names == [
        "ner", "newsflow_entity_canonicalizer_v2", "newsflow_topic_evidence_v1",
    ]


def test_small_batches_stay_in_one_process(offline_settings: Any) -> None:
    per = offline_settings.enrich.min_texts_per_process
    assert processes_for(per - 1, offline_settings) == 1
    capped = offline_settings.model_copy(update={"enrich": offline_settings.enrich.model_copy(
        update={"n_process": 2})})
    assert processes_for(per * 10, capped) == 2


def test_several_processes_give_the_same_enrichment_as_one(enrich_settings: Any, enricher: Any) -> None:
    from enrich.pipeline import Enricher

    articles = [g.article for g in load_gold()[:12]]
    two = enrich_settings.model_copy(update={"enrich": enrich_settings.enrich.model_copy(
        update={"n_process": 2, "min_texts_per_process": 6})})
    assert processes_for(len(articles), two) == 2
    in_two = Enricher(two).enrich(articles)
    assert sum(len(a.persons + a.organizations + a.locations) for a in in_two) > 20
    assert in_two == enricher.enrich(articles)


def test_the_model_is_loaded_once_per_process(enrich_settings: Any, enricher: Any) -> None:
    from enrich.pipeline import Enricher

    assert Enricher(enrich_settings).nlp is enricher.nlp
