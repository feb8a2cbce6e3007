"""The learned main-topic decision: which top-level IPTC topic an article is mainly about.

A multinomial logistic regression (enrich/linear.py) over the evidence the pipeline already
measures (enrich/topics.py), per top-level topic T:
- `z|T`: the background-normalised similarity of the article's word vector to T's description;
- `zmax|T`: the highest such similarity among T's second-level topics (the narrower descriptions
  often fit better than the broad one);
- `kw|T`: log1p of T's keyword hits and those of its second-level topics;
- `ztop3|T`: the mean of the three highest;
- `share|T`: T's share of all those hits;
- `cat|T`: feed categories naming T or one of its second-level topics (or their keywords);
- `calib|T`: the calibrated score's logit (enrich/data/topic_calibration.json), the old decision.
Every topic weighs each kind alike (`enrich.linear.train_shared`: seven weights and a bias per
topic), which a few hundred annotated articles can fit; a weight per topic and feature (`train`,
with the feed categories' words hashed into features as well) did worse in cross-validation.

Trained offline by tools/train_topics.py from the hand-annotated gold sets and shipped as
enrich/data/topic_model.json. `decide_topics` writes the model's probabilities as the top-level
scores, so the best-scored top-level topic in `topic_scores` is always the model's choice;
second-level scores stay calibrated and need their parent indexed, as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from enrich.linear import LinearModel
from enrich.topics import (
    DATA,
    Calibration,
    TopicEvidence,
    TopicVocabulary,
    calibrated_scores,
    category_topics,
    default_calibration,
    default_vocabulary,
    labels_and_kept,
)
from newsflow.core.errors import EnrichError
from newsflow.core.models import TopicScore

DEFAULT_MODEL = DATA / "topic_model.json"
FEATURE_KINDS = ("z", "zmax", "ztop3", "kw", "share", "cat", "calib")
# Another top-level topic is indexed beside the model's choice when its probability reaches this.
SECOND_TOPIC_PROBABILITY = 0.2


@cache
def default_topic_model() -> LinearModel:
    return load_topic_model(DEFAULT_MODEL)


def load_topic_model(path: Path) -> LinearModel:
    try:
        return LinearModel.from_file(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EnrichError(f"cannot read the topic model {path}: {exc} "
                          "(restore it or retrain: tools/train_topics.py)") from exc


def topic_features(
    evidence: TopicEvidence,
    categories: Sequence[str] = (),
    *,
    vocabulary: TopicVocabulary | None = None,
    calibration: Calibration | None = None,
    calibrated: Sequence[TopicScore] | None = None,
) -> dict[str, float]:
    """The model's named features for one article. Pure. `calibrated`: calibrated_scores' scores
    for these arguments, when the caller has them already."""
    vocabulary = vocabulary or default_vocabulary()
    scores = calibrated if calibrated is not None else calibrated_scores(
        evidence, categories=categories, vocabulary=vocabulary,
        calibration=calibration or default_calibration())[0]
    topics = vocabulary.topics
    top_of = [t.parent or t.qcode for t in topics]
    labels = {t.qcode: t.label for t in topics if t.parent is None}
    z = dict.fromkeys(labels, 0.0)
    narrower: dict[str, list[float]] = {q: [] for q in labels}
    hits = dict.fromkeys(labels, 0)
    for topic, top, value, count in zip(topics, top_of, evidence.similarity_z, evidence.keyword_hits,
                                        strict=True):
        if topic.parent is None:
            z[top] = value
        else:
            narrower[top].append(value)
        hits[top] += count
    in_category = dict.fromkeys(labels, 0)
    for i in category_topics(categories, vocabulary):
        in_category[top_of[i]] += 1
    total = sum(hits.values())
    features: dict[str, float] = {}
    for topic, score in zip(topics, scores, strict=True):
        if topic.parent is None:
            label = topic.label
            best = sorted(narrower[topic.qcode], reverse=True)[:3] or [0.0]
            features[f"z|{label}"] = z[topic.qcode]
            features[f"zmax|{label}"] = best[0]
            features[f"ztop3|{label}"] = sum(best) / len(best)
            features[f"kw|{label}"] = math.log1p(hits[topic.qcode])
            features[f"share|{label}"] = hits[topic.qcode] / total if total else 0.0
            features[f"cat|{label}"] = float(in_category[topic.qcode])
            features[f"calib|{label}"] = _logit(score.score)
    return features


def decide_topics(
    evidence: TopicEvidence,
    *,
    categories: Sequence[str] = (),
    threshold: float | None = None,
    vocabulary: TopicVocabulary | None = None,
    calibration: Calibration | None = None,
    model: LinearModel | None = None,
) -> tuple[tuple[str, ...], tuple[TopicScore, ...]]:
    """(indexed labels, the SCORES_KEPT best scores plus those of the labels, best first). Pure.

    Top-level scores are the model's probabilities; the model's choice is indexed when the article
    has any evidence at all (a word vector, a keyword or a category), another top-level topic when
    its probability reaches SECOND_TOPIC_PROBABILITY; a second-level topic when its calibrated score
    reaches the threshold and its parent is indexed."""
    vocabulary = vocabulary or default_vocabulary()
    calibration = calibration or default_calibration()
    model = model or default_topic_model()
    threshold = calibration.threshold if threshold is None else threshold
    scores, hits = calibrated_scores(evidence, categories=categories, vocabulary=vocabulary,
                                     calibration=calibration)
    probabilities = _apply(model, topic_features(evidence, categories, vocabulary=vocabulary,
                                                 calibration=calibration, calibrated=scores))
    topics = vocabulary.topics
    scores = [TopicScore(s.label, probabilities.get(s.label, 0.0), s.qcode) if t.parent is None else s
              for s, t in zip(scores, topics, strict=True)]
    chosen: set[str] = set()
    if any(hits) or any(evidence.similarity_z):
        tops = [s for s, t in zip(scores, topics, strict=True) if t.parent is None]
        best = max(tops, key=lambda s: s.score)
        chosen = {best.qcode} | {s.qcode for s in tops if s.score >= SECOND_TOPIC_PROBABILITY}
    return labels_and_kept(scores, topics, chosen, threshold)


# The model's arrays, made once per model (a LinearModel keeps tuples: converting them per article
# would cost more than the dot product).
_ARRAYS: dict[int, tuple[LinearModel, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _apply(model: LinearModel, features: Mapping[str, float]) -> dict[str, float]:
    """model.probabilities(features), with the arrays made once."""
    cached = _ARRAYS.get(id(model))
    if cached is None or cached[0] is not model:
        cached = (model, np.array(model.weights), np.array(model.bias), np.array(model.mean),
                  np.array(model.scale))
        _ARRAYS[id(model)] = cached
    _, weights, bias, mean, scale = cached
    x = (np.array([features.get(name, 0.0) for name in model.features]) - mean) / scale
    logits = weights @ x + bias
    exp = np.exp(logits - logits.max())
    return dict(zip(model.classes, (exp / exp.sum()).tolist(), strict=True))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
