"""newsflow's spaCy components, registered under versioned names with their defaults as data.

A change in behaviour gets a new name (`..._v2`), so a pipeline config always means one behaviour.
Both components write plain lists/dicts into Doc extensions, so their results survive the trip back
from nlp.pipe worker processes (Doc.to_bytes keeps user_data).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from enrich.canonical import (
    DEFAULT_RULES_FILE,
    EntityRules,
    Mention,
    canonical_entities,
    confirmed_mentions,
    standalone_mention,
)
from enrich.topics import DEFAULT_KEYWORDS, DEFAULT_VOCABULARY, TopicEvidenceCollector, TopicVocabulary

# {"persons": [...], ..., "persons_alias": [...], ..., "geo": [[lat, lon], ...]}
ENTITIES_ATTR = "newsflow_entities"
TOPIC_EVIDENCE_ATTR = "newsflow_topic_evidence"  # {"similarity_z": [...], "keyword_hits": [...]}

for _attr in (ENTITIES_ATTR, TOPIC_EVIDENCE_ATTR):
    if not Doc.has_extension(_attr):
        Doc.set_extension(_attr, default=None)


class EntityCanonicalizer:
    """Turns doc.ents into canonical persons / organizations / locations (enrich/canonical.py)."""

    def __init__(self, name: str, rules: EntityRules) -> None:
        self.name = name
        self.rules = rules

    def __call__(self, doc: Doc) -> Doc:
        # The text is "title\n\nbody" (enrich.ner.ner_text): headline-case titles need confirming.
        # (doc.text and doc.ents are rebuilt from the tokens on every access: read them once.)
        full, ents = doc.text, doc.ents
        title_end = full.find("\n\n")
        title, text = (full[:title_end], full[title_end:]) if title_end >= 0 else ("", full)
        # A name alone on a body line is a heading, a tag or a signature: kept only when the text also
        # names it in a sentence.
        alone = [ent.start_char > title_end and standalone_mention(full, ent.start_char, ent.end_char)
                 for ent in ents]
        in_prose = {ent.text for ent, lone in zip(ents, alone, strict=True) if not lone}
        mentions = confirmed_mentions(
            ((Mention(ent.text, ent.label_), ent.start_char < title_end)
             for ent, lone in zip(ents, alone, strict=True) if not lone or ent.text in in_prose),
            title, text, self.rules,
        )
        entities = canonical_entities(mentions, self.rules, text=doc.text)
        doc._.set(ENTITIES_ATTR, {key: [list(v) if isinstance(v, tuple) else v for v in values]
                                  for key, values in asdict(entities).items()})
        return doc


class TopicEvidenceComponent:
    """Measures the IPTC topic evidence of a doc (enrich/topics.py); scoring happens afterwards."""

    def __init__(self, name: str, collector: TopicEvidenceCollector) -> None:
        self.name = name
        self.collector = collector

    def __call__(self, doc: Doc) -> Doc:
        evidence = self.collector.evidence(doc)
        doc._.set(TOPIC_EVIDENCE_ATTR, {
            "similarity_z": list(evidence.similarity_z), "keyword_hits": list(evidence.keyword_hits),
        })
        return doc


@Language.factory(
    "newsflow_entity_canonicalizer_v2",  # v2: the entity table (gazetteer), spellings and coordinates
    default_config={"rules_file": ""},
    requires=["doc.ents"],
    assigns=[f"doc._.{ENTITIES_ATTR}"],
)
def make_entity_canonicalizer(nlp: Language, name: str, rules_file: str) -> EntityCanonicalizer:
    return EntityCanonicalizer(name, EntityRules.from_file(rules_file or DEFAULT_RULES_FILE))


@Language.factory(
    "newsflow_topic_evidence_v1",
    default_config={"vocabulary_file": "", "keywords_file": ""},
    assigns=[f"doc._.{TOPIC_EVIDENCE_ATTR}"],
)
def make_topic_evidence(nlp: Language, name: str, vocabulary_file: str, keywords_file: str) -> Any:
    from pathlib import Path

    vocabulary = TopicVocabulary.from_files(
        Path(vocabulary_file) if vocabulary_file else DEFAULT_VOCABULARY,
        Path(keywords_file) if keywords_file else DEFAULT_KEYWORDS,
    )
    return TopicEvidenceComponent(name, TopicEvidenceCollector(nlp.vocab, nlp.tokenizer, vocabulary))
