"""The entity canonicaliser component on hand-set model spans: what the entity tests run."""

from __future__ import annotations

from typing import Literal

import spacy

from enrich import components
from enrich.canonical import Entities

Placement = Literal["first", "every", "in_order"]


def canonicalized(text: str, *spans: tuple[str, str], placement: Placement = "first") -> Entities:
    """The canonical entities of `text` ("title\\n\\nbody") when the model found each (name, label)
    of `spans` at its first occurrence ("first"), at every occurrence ("every"), or at its first
    occurrence after the previous span ("in_order", for a name found more than once)."""
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v2")
    doc = nlp.make_doc(text)
    found, cursor = [], 0
    for name, label in spans:
        start = text.index(name, cursor if placement == "in_order" else 0)
        while start >= 0:
            span = doc.char_span(start, start + len(name), label)
            assert span is not None, name
            found.append(span)
            cursor = start + len(name)
            start = text.find(name, cursor) if placement == "every" else -1
    doc.ents = sorted(found, key=lambda s: s.start)
    entities: Entities = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)._.get(components.ENTITIES_ATTR)
    return entities
