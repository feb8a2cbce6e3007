"""The learned main-topic decision: the shipped model, its consistency with the stored scores, the real
pipeline on clear texts, and the reproducible training script."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from enrich.topic_model import decide_topics, default_topic_model, topic_features
from enrich.topics import TopicEvidence, default_vocabulary
from newsflow.core.models import Article, article_id_for
from tools import train_topics

TOP = [t for t in default_vocabulary().topics if t.parent is None]


def evidence(z: dict[str, float] | None = None, **hits: int) -> TopicEvidence:
    topics = default_vocabulary().topics
    z = z or {}
    return TopicEvidence(similarity_z=tuple(z.get(t.label, 0.0) for t in topics),
                         keyword_hits=tuple(hits.get(t.label, 0) for t in topics))


def test_the_shipped_model_decides_among_the_top_level_topics_from_the_features_we_compute() -> None:
    model = default_topic_model()
    assert set(model.classes) == {t.label for t in TOP}
    assert set(model.features) <= set(topic_features(evidence(sport=1)))
    assert "tools/train_topics.py" in model.about


@pytest.mark.parametrize("case", [
    {"sport": 4}, {"politics": 3, "election": 2}, {"health": 2, "sport": 1},
    {"z": {"economy, business and finance": 3.0, "crime, law and justice": 1.0}},
])
def test_the_best_scored_top_level_topic_is_the_models_choice(case: dict[str, Any]) -> None:
    found = evidence(**case)
    probabilities = default_topic_model().probabilities(topic_features(found))
    choice = max(probabilities, key=probabilities.__getitem__)
    labels, scores = decide_topics(found)
    top = {t.label for t in TOP}
    assert next(s.label for s in scores if s.label in top) == choice
    assert choice in labels
    assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)


def test_clear_keyword_evidence_wins_and_no_evidence_means_no_topic() -> None:
    assert decide_topics(evidence(sport=6))[0][0] == "sport"
    assert decide_topics(evidence())[0] == ()


def test_a_second_level_topic_still_needs_its_parent() -> None:
    labels, _ = decide_topics(evidence(**{"election": 5, "politics": 6}))
    assert {"politics", "election"} <= set(labels)
    # A sports text (its words and its keywords) with a few election words: politics is not chosen,
    # so the election topic, whose parent it is, is not indexed either.
    orphan, _ = decide_topics(evidence({"sport": 2.0}, **{"election": 5, "sport": 12}), threshold=0.5)
    assert orphan[0] == "sport" and "election" not in orphan
    topics = default_vocabulary().topics
    label_of = {t.qcode: t.label for t in topics}
    parents = {t.label: label_of.get(t.parent or "") for t in topics}
    for found in (labels, orphan):
        assert all(parents[label] is None or parents[label] in found for label in found)


CLEAR_TEXTS = {
    "sport": ("Late penalty sends United into the cup final",
              "A stoppage-time penalty gave United a 2-1 win over City in the semi-final on Saturday. "
              "The striker scored his 20th goal of the season and the coach praised the defence. "
              "The final against the league champions is at the national stadium next month."),
    "politics": ("Parliament passes the budget after a late vote",
                 "The governing coalition won the vote in parliament by six votes on Tuesday after the "
                 "opposition leader called for a snap election. The prime minister said the cabinet "
                 "would press on with its legislation, and the minority party demanded a referendum."),
    "health": ("Hospitals brace for a winter flu wave",
               "Doctors warned that hospitals could run short of beds as influenza cases rise. The health "
               "ministry urged older patients to get the vaccine, and nurses said clinics were already "
               "treating twice as many patients with respiratory infections as last year."),
}


@pytest.mark.parametrize("topic", sorted(CLEAR_TEXTS))
def test_the_real_pipeline_gives_a_clear_text_its_main_topic(enricher: Any, topic: str) -> None:
    title, body = CLEAR_TEXTS[topic]
    when = datetime(2026, 12, 1, tzinfo=UTC)
    url = f"https://example.org/{topic}"
    article = Article(id=article_id_for(url), url=url, title=title, summary="", body=body,
                      source="test", feed_url="test", published_at=when, ingested_at=when)
    enriched = enricher.enrich([article])[0]
    top = {t.label for t in TOP}
    assert next(s.label for s in enriched.topic_scores if s.label in top) == topic
    assert topic in enriched.topics


def test_the_training_script_is_reproducible_and_skips_the_held_out_part(tmp_path: Path) -> None:
    # A small gold file with its evidence cached, so the script needs neither the corpus nor the model.
    labels = ["sport", "politics", "health", "crime, law and justice"]
    rows, cache = [], []
    for k in range(40):
        label = labels[k % 4]
        found = evidence({label: 1.0 + (k % 3) / 2}, **{label: 1 + k % 2})
        url = f"https://example.org/{k}"
        rows.append({"file": "x", "index": k, "url": url, "topics": [label],
                     "split": "heldout" if k >= 36 else "train"})
        cache.append({"url": url, "categories": [], "z": list(found.similarity_z),
                      "hits": list(found.keyword_hits)})
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"articles": rows}), encoding="utf-8")
    cached = tmp_path / "cache.json"
    cached.write_text(json.dumps(cache), encoding="utf-8")
    outputs = []
    for name in ("a.json", "b.json"):
        assert train_topics.main([str(gold), "--cache", str(cached), "--out", str(tmp_path / name)]) == 0
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    about = json.loads(outputs[0])["about"]
    assert "on 36 articles" in about  # the four held-out entries were never read
