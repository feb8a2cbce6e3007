"""The enrichment of a batch of articles: language, entities (NER + canonical names), topics and the
story signature.

The batch is cut into chunks of `batch_size` articles, analysed in several forked processes when
the batch is large enough to pay for them. For each chunk a worker detects the languages, runs the
English articles through one nlp.pipe (NER, the entity canonicalizer and the topic evidence
component), scores the topics from the evidence (pure, so feed categories count as evidence) and
computes each article's MinHash story signature. Only those small results travel back.

Non-English articles keep their detected language and get no entities and no topics: the NER model,
the topic vectors and the keywords are English, and English NER on other languages yields noise.
Assigning stories is separate (enrich/stories.py): it needs Elasticsearch.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Generator, Iterator, Sequence

from spacy.language import Language
from spacy.tokens import Doc

from enrich import components
from enrich.canonical import Entities
from enrich.credits import CreditLines, read_credits
from enrich.language import article_language
from enrich.ner import NerText, load_nlp, model_location, ner_input
from enrich.stories import story_bands, story_signature
from enrich.topic_model import decide_topics, default_topic_model
from enrich.topics import TopicEvidence, default_calibration
from enrich.version import ENRICHMENT_VERSION
from newsflow.core.models import Article, TopicScore
from newsflow.core.processes import die_with_parent
from newsflow.core.settings import Settings

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
    nlp.add_pipe("newsflow_entity_canonicalizer_v2", config={"match_known_names": True})
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
        """New Article objects with language, entities, topics, story signature and the enrichment
        version, in input order."""
        return [article for group in self.stream(articles, on_progress=on_progress) for article in group]

    def stream(
        self, articles: Sequence[Article], *, group_size: int = 0,
        on_progress: Callable[[int], None] | None = None,
    ) -> Generator[list[Article], None, None]:
        """Enrich `articles`, yielding them in input order in groups of about `group_size` (0: one
        group) as soon as each group is done.

        With several processes the workers keep going while the caller handles a group, so the
        caller's work (story lookups, indexing, alert matching) overlaps the NER of later groups
        instead of waiting for the whole batch.
        """
        if not articles:
            return
        n_process = processes_for(len(articles), self._settings)
        log.debug("enriching %d articles in %d process(es)", len(articles), n_process)
        nlp = self.nlp
        batch_size = self._settings.enrich.batch_size
        pairs = list(enumerate(articles))
        chunks = [pairs[k:k + batch_size] for k in range(0, len(pairs), batch_size)]
        group: list[Article] = []
        done = 0
        for analyses in _analyse(nlp, self._settings, chunks, n_process):
            for analysis in analyses:
                group.append(_apply(articles[analysis.index], analysis))
            done += len(analyses)
            if on_progress is not None:
                on_progress(done)
            while group_size and len(group) >= group_size:
                yield group[:group_size]
                group = group[group_size:]
        if group:
            yield group


@dataclasses.dataclass(frozen=True, slots=True)
class Analysis:
    """What enrichment found for one article: small, since workers send it back to the parent."""

    index: int
    language: str
    entities: Entities  # as the entity canonicalizer made them, carried unchanged to the article
    topics: tuple[str, ...]
    topic_scores: tuple[TopicScore, ...]
    story_signature: tuple[int, ...]
    story_bands: tuple[str, ...]
    credit: tuple[str, ...] = ()
    distributor: tuple[str, ...] = ()


def _apply(article: Article, analysis: Analysis) -> Article:
    entities = analysis.entities
    return dataclasses.replace(
        article,
        language=analysis.language,
        persons=entities.persons,
        organizations=entities.organizations,
        locations=entities.locations,
        persons_alias=entities.persons_alias,
        organizations_alias=entities.organizations_alias,
        locations_alias=entities.locations_alias,
        geo=entities.geo,
        credit=analysis.credit,
        distributor=analysis.distributor,
        topics=analysis.topics,
        topic_scores=analysis.topic_scores,
        story_signature=analysis.story_signature,
        story_bands=analysis.story_bands,
        enrichment_version=ENRICHMENT_VERSION,
    )


_NO_ENTITIES = Entities()


# The pipeline and settings a forked worker inherits from its parent (set just before the pool is
# created), so workers neither reload the model nor receive it pickled.
_worker_nlp: Language | None = None
_worker_settings: Settings | None = None

Chunk = list[tuple[int, Article]]


def _analyse(
    nlp: Language, settings: Settings, chunks: list[Chunk], n_process: int
) -> Iterator[list[Analysis]]:
    """Analyse chunks of (index, article) pairs, in order, in `n_process` processes.

    spaCy's own `nlp.pipe(n_process=...)` sends every Doc back to the parent serialised, which cost
    about a fifth of the NER time in profiles (msgpack plus registry look-ups per Doc). Forked workers
    here keep the Docs and return only the small results. They also detect the language and compute
    the story signature (MinHash), which would otherwise run in the parent, on one core, before and
    after the NER.
    """
    if n_process <= 1:
        for chunk in chunks:
            yield _analyse_chunk(chunk, nlp, settings)
        return
    global _worker_nlp, _worker_settings
    _worker_nlp, _worker_settings = nlp, settings
    context = multiprocessing.get_context("fork")
    # Workers exit with this process even when it is killed (SIGKILL, SIGTERM) before the pool is
    # stopped: otherwise each would hold its ~0.6 GB copy of the model for ever.
    with context.Pool(n_process, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        yield from pool.imap(_analyse_in_worker, chunks)


def _analyse_in_worker(chunk: Chunk) -> list[Analysis]:
    assert _worker_nlp is not None and _worker_settings is not None, (
        "the pool must be forked after the pipeline was loaded")
    return _analyse_chunk(chunk, _worker_nlp, _worker_settings)


def _analyse_chunk(chunk: Chunk, nlp: Language, settings: Settings) -> list[Analysis]:
    config = settings.enrich
    languages = {i: article_language(article) for i, article in chunk}
    # Credit lines name the outlet and the distributor, and are cut from what NER sees (enrich/credits.py).
    credits: dict[int, CreditLines] = {}
    for i, article in chunk:
        parts = ner_input(article, config.max_chars)
        credits[i] = read_credits(parts.text, title=parts.title)
    english = ((_ner_doc(nlp, credits[i]), i) for i, _ in chunk if languages[i] == ENGLISH)
    n_english = sum(1 for i, _ in chunk if languages[i] == ENGLISH)
    found: dict[int, tuple[Entities, tuple[str, ...], tuple[TopicScore, ...]]] = {}
    calibration, model = default_calibration(), default_topic_model()
    articles = dict(chunk)
    for doc, i in nlp.pipe(english, as_tuples=True, batch_size=max(1, n_english)):
        entities: Entities = doc._.get(components.ENTITIES_ATTR) or _NO_ENTITIES
        evidence: TopicEvidence | None = doc._.get(components.TOPIC_EVIDENCE_ATTR)
        labels: tuple[str, ...] = ()
        scores: tuple[TopicScore, ...] = ()
        if evidence is not None:
            labels, scores = decide_topics(evidence, categories=articles[i].categories,
                                           threshold=config.topic_threshold, calibration=calibration,
                                           model=model)
        found[i] = (entities, labels, scores)
    analyses = []
    for i, article in chunk:
        entities, labels, scores = found.get(i, (_NO_ENTITIES, (), ()))
        signature = story_signature(article)
        analyses.append(Analysis(i, languages[i], entities, labels, scores, signature,
                                 story_bands(signature), credits[i].credit, credits[i].distributor))
    return analyses


def _ner_doc(nlp: Language, credits: CreditLines) -> Doc:
    return components.ner_doc(nlp, NerText(credits.title, credits.text))


def topic_evidence(nlp: Language, articles: Sequence[Article],
                   settings: Settings) -> list[TopicEvidence | None]:
    """The topic evidence of each article as enrichment measures it (None when not English): what
    the topic model is trained on (tools/train_topics.py). `nlp`: build_pipeline's pipeline."""
    max_chars = settings.enrich.max_chars
    english = [(_ner_doc(nlp, read_credits(parts.text, title=parts.title)), i)
               for i, article in enumerate(articles) if article_language(article) == ENGLISH
               for parts in (ner_input(article, max_chars),)]
    found: list[TopicEvidence | None] = [None] * len(articles)
    for doc, i in nlp.pipe(english, as_tuples=True):
        found[i] = doc._.get(components.TOPIC_EVIDENCE_ATTR)
    return found
