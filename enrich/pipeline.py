"""The enrichment of a batch of articles: language, entities (NER + canonical names) and topics.

Language is detected first, in this process (py3langid is cheap). English articles then go through
one nlp.pipe: NER, the entity canonicalizer and the topic evidence component, in several processes
when the batch is large enough to pay for starting them. Topic scores are computed from the evidence
here (pure), so feed categories can count as evidence.

Non-English articles keep their detected language and get no entities and no topics: the NER model,
the topic vectors and the keywords are English, and English NER on other languages yields noise.
Story clustering is separate (enrich/stories.py): it needs Elasticsearch.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from spacy.language import Language

from enrich import components
from enrich.language import article_language
from enrich.ner import load_nlp, model_location, ner_text
from enrich.topics import TopicEvidence, default_calibration, score_topics
from enrich.version import ENRICHMENT_VERSION
from newsflow.models import Article, TopicScore
from newsflow.settings import Settings

log = logging.getLogger(__name__)

ENGLISH = "en"


def processes_for(n_texts: int, settings: Settings) -> int:
    """How many NER processes a batch of n_texts deserves: one per `min_texts_per_process` texts,
    at most `n_process` (0 = the number of cores). Starting a worker costs about a model load."""
    if multiprocessing.current_process().daemon:
        return 1  # a daemonic worker (some task runners) may not start child processes
    cap = settings.enrich.n_process or (os.cpu_count() or 1)
    per = max(1, settings.enrich.min_texts_per_process)
    return max(1, min(cap, n_texts // per))


def build_pipeline(settings: Settings) -> Language:
    """load_nlp's NER pipeline plus newsflow's components."""
    nlp = load_nlp(settings)
    nlp.add_pipe("newsflow_entity_canonicalizer_v1")
    nlp.add_pipe("newsflow_topic_evidence_v1")
    return nlp


# One pipeline per model per process, whatever the number of Enrichers (a CLI run, a DAG task or a
# test session each build their own Enricher; the model load costs 1-3 s and ~0.5 GB).
_pipelines: dict[str, Language] = {}
_pipelines_lock = threading.Lock()


def shared_pipeline(settings: Settings) -> Language:
    location = model_location(settings)
    with _pipelines_lock:
        if location not in _pipelines:
            _pipelines[location] = build_pipeline(settings)
        return _pipelines[location]


class Enricher:
    """Enriches batches of articles; the model is loaded on first use, once per process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._nlp: Language | None = None

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._nlp = shared_pipeline(self._settings)
        return self._nlp

    def enrich(
        self, articles: Sequence[Article], *, on_progress: Callable[[int], None] | None = None
    ) -> list[Article]:
        """New Article objects with language, entities, topics and the enrichment version, in input order."""
        settings = self._settings.enrich
        results: list[Article] = []
        english: list[int] = []
        for i, article in enumerate(articles):
            language = article_language(article)
            results.append(dataclasses.replace(
                article, language=language, persons=(), organizations=(), locations=(), topics=(),
                topic_scores=(), enrichment_version=ENRICHMENT_VERSION,
            ))
            if language == ENGLISH:
                english.append(i)
        done = len(articles) - len(english)
        if on_progress is not None and done:
            on_progress(done)
        if not english:
            return results

        n_process = processes_for(len(english), self._settings)
        log.debug("enriching %d English articles in %d process(es)", len(english), n_process)
        texts = [(ner_text(results[i], settings.max_chars), i) for i in english]
        calibration = default_calibration()
        threshold = settings.topic_threshold
        for i, entities, raw in _analyse(self.nlp, texts, settings.batch_size, n_process):
            labels: tuple[str, ...] = ()
            scores: tuple[TopicScore, ...] = ()
            if raw:
                evidence = TopicEvidence(tuple(raw["similarity_z"]), tuple(raw["keyword_hits"]))
                labels, scores = score_topics(
                    evidence, categories=results[i].categories, threshold=threshold, calibration=calibration,
                )
            results[i] = dataclasses.replace(
                results[i],
                persons=tuple(entities.get("persons", ())),
                organizations=tuple(entities.get("organizations", ())),
                locations=tuple(entities.get("locations", ())),
                topics=labels,
                topic_scores=scores,
            )
            done += 1
            if on_progress is not None:
                on_progress(done)
        return results


# (article index, canonical entities by facet, raw topic evidence): what a worker sends back.
Analysis = tuple[int, dict[str, list[str]], dict[str, Any] | None]

# The pipeline a forked worker inherits from its parent (set just before the pool is created), so
# workers neither reload the model nor receive it pickled.
_worker_nlp: Language | None = None


def _analyse(nlp: Language, texts: list[tuple[str, int]], batch_size: int,
             n_process: int) -> Iterator[Analysis]:
    """Run the pipeline over (text, index) pairs, in order, in `n_process` processes.

    spaCy's own `nlp.pipe(n_process=...)` sends every Doc back to the parent serialised, which cost
    about a fifth of the NER time in profiles (msgpack plus registry look-ups per Doc). Forked workers
    here keep the Docs and return only the small results: names and topic evidence.
    """
    if n_process <= 1:
        yield from _analyse_batch(texts, nlp, batch_size)
        return
    global _worker_nlp
    _worker_nlp = nlp
    chunks = [texts[k:k + batch_size] for k in range(0, len(texts), batch_size)]
    context = multiprocessing.get_context("fork")
    with context.Pool(n_process) as pool:
        for part in pool.imap(_analyse_in_worker, chunks):
            yield from part


def _analyse_in_worker(texts: list[tuple[str, int]]) -> list[Analysis]:
    assert _worker_nlp is not None, "the pool must be forked after the pipeline was loaded"
    return list(_analyse_batch(texts, _worker_nlp, len(texts)))


def _analyse_batch(texts: list[tuple[str, int]], nlp: Language, batch_size: int) -> Iterator[Analysis]:
    for doc, i in nlp.pipe(texts, as_tuples=True, batch_size=batch_size):
        entities = doc._.get(components.ENTITIES_ATTR) or {}
        raw = doc._.get(components.TOPIC_EVIDENCE_ATTR)
        yield i, {facet: list(names) for facet, names in entities.items()}, raw
