"""newsflow's spaCy components, registered under versioned names with their defaults as data.

A change in behaviour gets a new name (`..._v2`), so a pipeline config always means one behaviour.
Both components write their typed, frozen results into Doc extensions (`Entities`, `TopicEvidence`),
which enrich.pipeline carries unchanged to the article. They are registered with srsly's msgpack, so
they also survive the trip back from spaCy's own nlp.pipe worker processes (Doc.to_bytes keeps
user_data).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import srsly  # type: ignore[import-untyped]
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from enrich.canonical import (
    DEFAULT_RULES_FILE,
    MAX_CUED_WORDS,
    Entities,
    EntityRules,
    Mention,
    about_sport,
    after_place_word,
    canonical_entities,
    confirmed_mentions,
    lines_of_names,
    names_a_credit,
    names_a_currency_or_tournament,
    names_a_job_portfolio,
    names_a_portfolio,
    names_a_release,
    names_a_time_zone,
    names_a_work,
    opens_the_title,
    product_kind_names,
    product_name,
    signs_the_title,
    standalone_mention,
    used_as_a_common_word,
    used_as_a_product,
)
from enrich.known_names import KnownNameMatcher
from enrich.ner import NerText
from enrich.topics import (
    DEFAULT_KEYWORDS,
    DEFAULT_VOCABULARY,
    TopicEvidence,
    TopicEvidenceCollector,
    TopicVocabulary,
)
from enrich.type_cues import article_cues, cue_key, needs_cues

NER_TEXT_ATTR = "newsflow_ner_text"  # NerText: the title beside the text, set by `ner_doc`
ENTITIES_ATTR = "newsflow_entities"  # Entities (enrich/canonical.py)
TOPIC_EVIDENCE_ATTR = "newsflow_topic_evidence"  # TopicEvidence (enrich/topics.py)

for _attr in (NER_TEXT_ATTR, ENTITIES_ATTR, TOPIC_EVIDENCE_ATTR):
    if not Doc.has_extension(_attr):
        Doc.set_extension(_attr, default=None)


def ner_doc(nlp: Language, text: NerText) -> Doc:
    """The Doc NER reads for an article (`text.joined`), with its title carried beside it."""
    doc = nlp.make_doc(text.joined)
    doc._.set(NER_TEXT_ATTR, text)
    return doc


def _split_title(text: str) -> NerText:
    """A joined NER text ("title\n\nbody", enrich.ner.NerText.joined) split at its first blank line."""
    end = text.find("\n\n")
    return NerText(text[:end], text[end + 2:]) if end >= 0 else NerText("", text)


class EntityCanonicalizer:
    """Turns doc.ents into canonical persons / organizations / locations (enrich/canonical.py)."""

    def __init__(self, name: str, rules: EntityRules, known: KnownNameMatcher | None = None,
                 vocab: Vocab | None = None) -> None:
        self.name = name
        self.rules = rules
        self.known = known  # the table's names the model missed (enrich/known_names.py)
        self.vocab = vocab  # the model's vocabulary: which lowercase strings are words it has vectors of

    def is_word(self, lower: str) -> bool:
        """True when the model has a vector for `lower` (with no vocabulary, every string is a word)."""
        return self.vocab is None or self.vocab.strings[lower] in self.vocab.vectors.key2row

    def __call__(self, doc: Doc) -> Doc:
        # Headline-case titles need their names confirmed by the text. The title comes beside the
        # text (`ner_doc`); a Doc made from a plain "title\n\nbody" string is split at the blank line.
        # (doc.text and doc.ents are rebuilt from the tokens on every access: read them once.)
        full, rules = doc.text, self.rules
        parts: NerText = doc._.get(NER_TEXT_ATTR) or _split_title(full)
        title_end = parts.title_end if parts.title else -1
        ents = doc.ents if self.known is None else self.known.spans(doc, doc.ents, title_end)
        # Platforms used as products ("posted on Facebook"), portfolios in job titles ("Minister of
        # State for Finance"), agencies in credits ("AP Photo") and products named by the noun after
        # them ("the Orion capsule") are not the organisations they name.
        spans = ((ent.start_char, ent.end_char, ent.label_) for ent in ents)
        products = product_kind_names(full, spans, rules)
        ents = [ent for ent in ents
                if not (used_as_a_product(full, ent.start_char, ent.end_char, rules)
                        or names_a_portfolio(full, ent.start_char, ent.label_)
                        or names_a_job_portfolio(full, ent.start_char, ent.end_char, ent.label_, rules)
                        or names_a_time_zone(full, ent.start_char, ent.end_char)
                        or names_a_credit(full, ent.start_char, ent.end_char, rules)
                        or names_a_release(full, ent.start_char, ent.end_char, ent.label_, rules)
                        or names_a_currency_or_tournament(full, ent.end_char, ent.label_)
                        or signs_the_title(full, ent.start_char, ent.end_char, title_end)
                        or used_as_a_common_word(full, ent.start_char, ent.end_char, ent.label_, rules)
                        or names_a_work(full, ent.start_char, ent.end_char, ent.label_, rules)
                        or opens_the_title(full, ent.start_char, ent.end_char, ent.label_, title_end, rules,
                                           self.is_word)
                        or (bool(products) and product_name(ent.text) in products))]
        # A name alone on a body line is a heading, a tag or a signature, and so is a line of names
        # and nothing else ("Medscape News UK", "Reuters Health, London"): kept only when the text
        # also names it in a sentence.
        names_only = lines_of_names(full, [(ent.start_char, ent.end_char) for ent in ents])
        alone = [ent.start_char > title_end and (
            standalone_mention(full, ent.start_char, ent.end_char) or ent.start_char in names_only)
            for ent in ents]
        in_prose = {ent.text for ent, lone in zip(ents, alone, strict=True) if not lone}
        # Outside sport a town's name tagged ORG is the town ("Timaru", "Tondo"); in a sports story
        # it is as often the club named after it ("Liverpool beat Chelsea"): only after "in", "at"...
        sport = about_sport(full)
        as_places = any(ent.label_ == "ORG" for ent in ents) and not sport
        # The words around a name that say what it is, for all its mentions (enrich/type_cues.py).
        cues = article_cues(full, ((ent.start_char, ent.end_char) for ent in ents
                                   if needs_cues(ent.text, ent.label_, rules.table, MAX_CUED_WORDS)),
                            rules.org_kind_nouns, rules.person_role_nouns, rules.table)
        mentions = confirmed_mentions(
            ((Mention(ent.text, ent.label_, after_place_word(full, ent.start_char),
                      town_as_place=as_places and ent.label_ == "ORG",
                      org_cue=cue_key(ent.text) in cues.organizations,
                      person_cue=cue_key(ent.text) in cues.persons,
                      region_after=cue_key(ent.text) in cues.places, in_sport_story=sport),
              ent.start_char < title_end)
             for ent, lone in zip(ents, alone, strict=True) if not lone or ent.text in in_prose),
            parts.title, parts.text, self.rules,
        )
        doc._.set(ENTITIES_ATTR, canonical_entities(mentions, self.rules, text=full))
        return doc


class TopicEvidenceComponent:
    """Measures the IPTC topic evidence of a doc (enrich/topics.py); scoring happens afterwards."""

    def __init__(self, name: str, collector: TopicEvidenceCollector) -> None:
        self.name = name
        self.collector = collector

    def __call__(self, doc: Doc) -> Doc:
        doc._.set(TOPIC_EVIDENCE_ATTR, self.collector.evidence(doc))
        return doc


@Language.factory(
    "newsflow_entity_canonicalizer_v2",  # v2: the entity table (gazetteer), spellings and coordinates
    default_config={"rules_file": "", "match_known_names": False},
    requires=["doc.ents"],
    assigns=[f"doc._.{ENTITIES_ATTR}"],
)
def make_entity_canonicalizer(nlp: Language, name: str, rules_file: str,
                              match_known_names: bool) -> EntityCanonicalizer:
    rules = EntityRules.from_file(rules_file or DEFAULT_RULES_FILE)
    known = None
    if match_known_names:
        titles = {t for title in rules.person_titles for t in title}
        known = KnownNameMatcher(nlp, rules.table, titles)
    return EntityCanonicalizer(name, rules, known, nlp.vocab)


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


# The typed results in msgpack (what Doc.to_bytes writes user_data with): a map naming the type.
_TYPED: dict[str, type[Any]] = {"Entities": Entities, "TopicEvidence": TopicEvidence, "NerText": NerText}
_TYPE_KEY = "__newsflow__"


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _encode_typed(obj: Any, chain: Any = None) -> Any:
    name = type(obj).__name__
    if _TYPED.get(name) is type(obj):
        return {_TYPE_KEY: name, "fields": {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}}
    return obj if chain is None else chain(obj)


def _decode_typed(obj: Any, chain: Any = None) -> Any:
    if isinstance(obj, dict) and _TYPE_KEY in obj:
        kind = _TYPED[obj[_TYPE_KEY]]
        return kind(**{key: _tuples(value) for key, value in obj["fields"].items()})
    return obj if chain is None else chain(obj)


srsly.msgpack_encoders.register("newsflow_typed", func=_encode_typed)
srsly.msgpack_decoders.register("newsflow_typed", func=_decode_typed)
