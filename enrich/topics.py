"""IPTC Media Topics, scored offline: word-vector similarity to topic descriptions plus keyword evidence.

Evidence (per doc, computed inside the spaCy pipeline, so it runs in the NER worker processes):
- the cosine between the article's mean static word vector (content words only) and each topic's
  description vector (label + definition + narrower labels, from enrich/data/iptc_mediatopics.json),
  standardised across the topics of the same level;
- keyword hits per topic (enrich/data/topic_keywords.yaml), counted with a PhraseMatcher on LOWER.

Scoring (pure, in `score_topics`): score = sigmoid(w_vec * z + w_kw * log1p(hits) + w_share * share + bias),
with the weights in enrich/data/topic_calibration.json, calibrated on the gold set (tests/enrich/gold).
Feed categories that name a topic or one of its keywords count as extra hits. A top-level label is kept
at or over the threshold; a second-level label only when its parent is kept too.
The vectors and keywords are English: non-English articles get no topics (see enrich/pipeline.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from spacy.attrs import IS_ALPHA, IS_STOP, LOWER
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from newsflow.core.errors import EnrichError
from newsflow.core.models import TopicScore

DATA = Path(str(resources.files("enrich") / "data"))  # package data, a folder on disk
DEFAULT_VOCABULARY = DATA / "iptc_mediatopics.json"
DEFAULT_KEYWORDS = DATA / "topic_keywords.yaml"
DEFAULT_CALIBRATION = DATA / "topic_calibration.json"
DEFAULT_BACKGROUND = DATA / "topic_background.json"
# Scores stored per article (best first, plus any indexed label): enough to inspect and recalibrate
# near the threshold without storing 124 objects in every document.
SCORES_KEPT = 12


@dataclass(frozen=True, slots=True)
class Topic:
    qcode: str
    label: str
    parent: str | None  # the top-level qcode, None for a top-level topic
    description: str  # label + definition + narrower labels: the text of its vector


@dataclass(frozen=True, slots=True)
class TopicEvidence:
    """What the pipeline measured for one article, in the order of `TopicVocabulary.topics`."""

    similarity_z: tuple[float, ...]
    keyword_hits: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Calibration:
    w_vec: float
    w_kw: float
    w_share: float
    bias: float
    threshold: float  # default for EnrichSettings.topic_threshold

    @classmethod
    def from_file(cls, path: Path = DEFAULT_CALIBRATION) -> Calibration:
        data = _read_json(path)
        return cls(**{k: float(data[k]) for k in ("w_vec", "w_kw", "w_share", "bias", "threshold")})


@dataclass(frozen=True, slots=True)
class TopicVocabulary:
    topics: tuple[Topic, ...]
    keywords: Mapping[str, tuple[str, ...]]  # label -> words or phrases

    @classmethod
    def from_files(
        cls, vocabulary: Path = DEFAULT_VOCABULARY, keywords: Path = DEFAULT_KEYWORDS
    ) -> TopicVocabulary:
        data = _read_json(vocabulary)
        topics = tuple(
            Topic(
                qcode=t["qcode"], label=t["label"], parent=t.get("parent"),
                description=" ".join([t["label"], t.get("definition", ""), *t.get("narrower_labels", [])]),
            )
            for t in data["topics"]
        )
        try:
            words = yaml.safe_load(keywords.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise EnrichError(f"cannot read the topic keywords {keywords}: {exc}") from exc
        labels = {t.label for t in topics}
        unknown = sorted(set(words) - labels)
        if unknown:
            raise EnrichError(f"{keywords}: labels not in the IPTC vocabulary: {unknown} (fix the spelling)")
        return cls(topics=topics, keywords={k: tuple(str(w).lower() for w in v) for k, v in words.items()})

    @property
    def levels(self) -> tuple[np.ndarray, np.ndarray]:
        """Index arrays of the top-level and the second-level topics."""
        top = np.array([i for i, t in enumerate(self.topics) if t.parent is None])
        second = np.array([i for i, t in enumerate(self.topics) if t.parent is not None])
        return top, second


@cache
def default_vocabulary() -> TopicVocabulary:
    return TopicVocabulary.from_files()


@cache
def default_calibration() -> Calibration:
    return Calibration.from_file()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EnrichError(f"cannot read {path}: {exc} (reinstall newsflow or restore the file)") from exc
    if not isinstance(data, dict):
        raise EnrichError(f"{path}: expected a JSON object")
    return data


class TopicEvidenceCollector:
    """Measures TopicEvidence on docs; built once per process (topic vectors computed at load)."""

    def __init__(self, vocab: Vocab, make_doc: Any, vocabulary: TopicVocabulary | None = None) -> None:
        self.vocabulary = vocabulary or default_vocabulary()
        self._vectors = vocab.vectors
        topics = self.vocabulary.topics
        matrix = np.stack([self._mean_vector(make_doc(t.description)) for t in topics])
        self._matrix = _unit_rows(matrix)
        self._top, self._second = self.vocabulary.levels
        self._matcher = PhraseMatcher(vocab, attr="LOWER")
        self._index = {t.label: i for i, t in enumerate(topics)}
        for label, words in self.vocabulary.keywords.items():
            self._matcher.add(label, [make_doc(w) for w in words])
        self._background = _background(topics)
        self._label_of_match = {
            vocab.strings[label]: self._index[label] for label in self.vocabulary.keywords
        }

    def _mean_vector(self, doc: Doc) -> np.ndarray:
        width = self._vectors.shape[1]
        if len(doc) == 0:
            return np.zeros(width, dtype="float32")
        attrs = doc.to_array([LOWER, IS_ALPHA, IS_STOP])
        content = attrs[(attrs[:, 1] == 1) & (attrs[:, 2] == 0), 0]
        if content.size == 0:
            return np.zeros(width, dtype="float32")
        rows = self._vectors.find(keys=content)
        rows = rows[rows >= 0]
        if rows.size == 0:
            return np.zeros(width, dtype="float32")
        return np.asarray(self._vectors.data[rows].mean(axis=0))

    def cosines(self, doc: Doc) -> np.ndarray | None:
        """Cosine of the doc's content-word vector with every topic vector; None without vectors."""
        vector = self._mean_vector(doc)
        norm = float(np.linalg.norm(vector))
        return None if norm == 0 else np.asarray(self._matrix @ (vector / norm))

    def evidence(self, doc: Doc) -> TopicEvidence:
        cosines = self.cosines(doc)
        z = np.zeros(len(self._matrix), dtype="float32")
        if cosines is not None:
            if self._background is not None:
                # How unusual this similarity is for this topic: some descriptions sit close to any news text.
                mean, std = self._background
                z = (cosines - mean) / std
            else:
                for level in (self._top, self._second):
                    values = cosines[level]
                    z[level] = (values - values.mean()) / (values.std() + 1e-6)
        hits = [0] * len(self._matrix)
        for match_id, _start, _end in self._matcher(doc):
            hits[self._label_of_match[match_id]] += 1
        return TopicEvidence(similarity_z=tuple(round(float(v), 4) for v in z), keyword_hits=tuple(hits))


def _background(topics: Sequence[Topic]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-topic mean and standard deviation of the cosine over a background of news articles
    (enrich/data/topic_background.json, made by tests/enrich/derive_topic_background.py); None when
    the file is missing or was made for other topics."""
    if not DEFAULT_BACKGROUND.is_file():
        return None
    data = _read_json(DEFAULT_BACKGROUND)
    stats = data.get("topics", {})
    if any(t.qcode not in stats for t in topics):
        return None
    mean = np.array([stats[t.qcode]["mean"] for t in topics], dtype="float32")
    std = np.array([max(stats[t.qcode]["std"], 1e-3) for t in topics], dtype="float32")
    return mean, std


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def calibrated_scores(
    evidence: TopicEvidence,
    *,
    categories: Sequence[str] = (),
    vocabulary: TopicVocabulary | None = None,
    calibration: Calibration | None = None,
) -> tuple[list[TopicScore], list[int]]:
    """(the calibrated score of every topic, its hits with the feed categories counted in), in the
    order of `vocabulary.topics`. Pure."""
    vocabulary = vocabulary or default_vocabulary()
    calibration = calibration or default_calibration()
    hits = list(evidence.keyword_hits)
    for i in category_topics(categories, vocabulary):
        hits[i] += 2  # an editor's own category is strong evidence, worth two keyword hits
    topics = vocabulary.topics
    totals: dict[str | None, int] = {None: 0, **{t.qcode: 0 for t in topics if t.parent is None}}
    for topic, count in zip(topics, hits, strict=True):
        totals[topic.parent] += count  # share within the topic's level (top) or parent (second)
    scores: list[TopicScore] = []
    for topic, z, count in zip(topics, evidence.similarity_z, hits, strict=True):
        total = totals[topic.parent]
        share = count / total if total else 0.0
        logit = calibration.w_vec * z + calibration.w_kw * math.log1p(count) + calibration.w_share * share
        score = _sigmoid(logit + calibration.bias)
        scores.append(TopicScore(label=topic.label, score=score, qcode=topic.qcode))
    return scores, hits


def score_topics(
    evidence: TopicEvidence,
    *,
    categories: Sequence[str] = (),
    threshold: float | None = None,
    vocabulary: TopicVocabulary | None = None,
    calibration: Calibration | None = None,
) -> tuple[tuple[str, ...], tuple[TopicScore, ...]]:
    """The calibrated decision alone (no learned main topic): (labels at or over the threshold, the
    SCORES_KEPT best scores plus those of the labels, best first). Pure."""
    vocabulary = vocabulary or default_vocabulary()
    calibration = calibration or default_calibration()
    threshold = calibration.threshold if threshold is None else threshold
    scores, hits = calibrated_scores(evidence, categories=categories, vocabulary=vocabulary,
                                     calibration=calibration)
    topics = vocabulary.topics
    chosen_top = {s.qcode for s, t in zip(scores, topics, strict=True)
                  if t.parent is None and s.score >= threshold}
    if not chosen_top:
        # Every article is about something: the best top-level topic when it has any keyword evidence.
        tops = (s for s, t in zip(scores, topics, strict=True) if t.parent is None)
        best = max(tops, key=lambda s: s.score)
        best_index = next(i for i, t in enumerate(topics) if t.qcode == best.qcode)
        if hits[best_index] > 0 and best.score >= threshold / 2:
            chosen_top = {best.qcode}
    return labels_and_kept(scores, topics, chosen_top, threshold)


def labels_and_kept(scores: Sequence[TopicScore], topics: Sequence[Topic], chosen_top: set[str],
                     threshold: float) -> tuple[tuple[str, ...], tuple[TopicScore, ...]]:
    """The chosen top-level labels with their second-level labels at or over the threshold, and the
    scores kept (best first)."""
    labels = [s.label for s, t in zip(scores, topics, strict=True)
              if (t.parent is None and s.qcode in chosen_top)
              or (t.parent in chosen_top and s.score >= threshold)]
    ranked = sorted(scores, key=lambda s: s.score, reverse=True)
    kept = [s for i, s in enumerate(ranked) if i < SCORES_KEPT or s.label in labels]
    return tuple(labels), tuple(kept)


def category_topics(categories: Sequence[str], vocabulary: TopicVocabulary) -> list[int]:
    found: list[int] = []
    for category in categories:
        text = category.strip().lower()
        for i, topic in enumerate(vocabulary.topics):
            if text and (text == topic.label or text in vocabulary.keywords.get(topic.label, ())):
                found.append(i)
    return found


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))
