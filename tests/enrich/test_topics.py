"""Topic scoring from evidence (pure) and the shipped IPTC data."""

from __future__ import annotations

import json

from enrich.topics import DEFAULT_VOCABULARY, TopicEvidence, default_vocabulary, score_topics


def evidence(**hits: int) -> TopicEvidence:
    topics = default_vocabulary().topics
    return TopicEvidence(similarity_z=(0.0,) * len(topics),
                         keyword_hits=tuple(hits.get(t.label, 0) for t in topics))


def test_the_vocabulary_is_the_iptc_top_two_levels_with_attribution() -> None:
    data = json.loads(DEFAULT_VOCABULARY.read_text(encoding="utf-8"))
    assert "CC BY 4.0" in data["attribution"] and "IPTC" in data["attribution"]
    vocabulary = default_vocabulary()
    top = [t for t in vocabulary.topics if t.parent is None]
    assert len(top) == 17 and {"politics", "sport", "conflict, war and peace"} <= {t.label for t in top}
    assert all(t.qcode.startswith("medtop:") for t in vocabulary.topics)


def test_strong_keyword_evidence_selects_the_topic() -> None:
    labels, scores = score_topics(evidence(sport=6))
    assert labels == ("sport",)
    assert scores[0].label == "sport" and scores[0].qcode == "medtop:15000000"


def test_a_second_level_topic_needs_its_parent() -> None:
    labels, _ = score_topics(evidence(**{"election": 5, "politics": 6}))
    assert set(labels) >= {"politics", "election"}
    orphan, _ = score_topics(evidence(**{"election": 5, "sport": 8}))
    assert "election" not in orphan


def test_no_evidence_means_no_topic() -> None:
    assert score_topics(evidence())[0] == ()


def test_a_feed_category_naming_a_topic_counts_as_evidence() -> None:
    def health_score(categories: list[str]) -> float:
        _, scores = score_topics(evidence(health=1), categories=categories)
        return next(s.score for s in scores if s.label == "health")

    assert health_score(["Health"]) > health_score([])
    assert "health" in score_topics(evidence(health=1), categories=["Health"])[0]


def test_the_threshold_decides_what_is_indexed() -> None:
    both = evidence(sport=6, health=5)
    assert set(score_topics(both)[0]) >= {"sport", "health"}
    # Over the threshold nothing; then the best top-level topic alone, since it has keyword evidence.
    assert score_topics(both, threshold=0.999)[0] == ("sport",)
