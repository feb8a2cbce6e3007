"""Measuring enrichment against the hand-annotated gold set (tests/enrich/gold/gold.json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from newsflow.core.models import Article
from tests.enrich.corpus import corpus_article

GOLD_FILE = Path(__file__).resolve().parent / "gold" / "gold.json"
ENTITY_FACETS = ("persons", "organizations", "locations")


@dataclass(frozen=True)
class GoldArticle:
    article: Article
    persons: frozenset[str]
    organizations: frozenset[str]
    locations: frozenset[str]
    topics: frozenset[str]
    split: str  # "dev": used for tuning; "heldout": never used for tuning


@dataclass(frozen=True)
class PrecisionRecall:
    true_positives: int
    predicted: int
    expected: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    def __str__(self) -> str:
        return f"P={self.precision:.3f} R={self.recall:.3f} (tp={self.true_positives}, " \
               f"predicted={self.predicted}, gold={self.expected})"


def load_gold(split: str | None = None) -> list[GoldArticle]:
    """The gold articles, all of them or one split ("dev" or "heldout")."""
    data = json.loads(GOLD_FILE.read_text(encoding="utf-8"))
    gold = []
    for entry in data["articles"]:
        if split is not None and entry["split"] != split:
            continue
        article = corpus_article(entry["file"], entry["index"])
        assert article.url == entry["url"], f"corpus item moved: {entry['file']}#{entry['index']}"
        gold.append(GoldArticle(
            article=article, persons=frozenset(entry["persons"]),
            organizations=frozenset(entry["organizations"]), locations=frozenset(entry["locations"]),
            topics=frozenset(entry["topics"]), split=entry["split"],
        ))
    return gold


def facet_scores(gold: Sequence[GoldArticle], enriched: Sequence[Article], facet: str) -> PrecisionRecall:
    """Micro-averaged precision and recall of one entity facet (exact canonical names)."""
    tp = predicted = expected = 0
    for g, e in zip(gold, enriched, strict=True):
        got, want = set(getattr(e, facet)), getattr(g, facet)
        tp += len(got & want)
        predicted += len(got)
        expected += len(want)
    return PrecisionRecall(tp, predicted, expected)


def _top_level() -> set[str]:
    from enrich.topics import default_vocabulary

    return {t.label for t in default_vocabulary().topics if t.parent is None}


def top_level_labels(article: Article) -> list[str]:
    """The article's top-level topic labels by score, best first (second-level labels left out)."""
    top = _top_level()
    return [s.label for s in article.topic_scores if s.label in top]


def topic_accuracy(gold: Sequence[GoldArticle], enriched: Sequence[Article]) -> float:
    """Share of articles whose best-scored top-level topic is one of the gold labels."""
    hits = sum(1 for g, e in zip(gold, enriched, strict=True)
               if top_level_labels(e) and top_level_labels(e)[0] in g.topics)
    return hits / len(gold)


def topic_scores(gold: Sequence[GoldArticle], enriched: Sequence[Article]) -> PrecisionRecall:
    """Micro precision/recall of the indexed top-level labels (`topics`) against the gold labels."""
    top = _top_level()
    tp = predicted = expected = 0
    for g, e in zip(gold, enriched, strict=True):
        got = {t for t in e.topics if t in top}
        tp += len(got & g.topics)
        predicted += len(got)
        expected += len(g.topics)
    return PrecisionRecall(tp, predicted, expected)
