"""The reference spans of the NER fine-tuning experiment (tools/train_ner.py), made from gold names."""

from __future__ import annotations

import spacy

from tools.train_ner import gold_forms, reference_ents


def test_reference_spans_come_from_the_gold_names_and_keep_the_models_other_labels() -> None:
    nlp = spacy.blank("en")
    text = "Vladimir Putin met WHO officials on Monday. Putin praised Acme Widgets in the Washington Post."
    doc = nlp.make_doc(text)

    def span(part: str, label: str) -> spacy.tokens.Span:
        start = text.index(part)
        found = doc.char_span(start, start + len(part), label=label)
        assert found is not None
        return found

    # The model cut the name short, tagged an invented organisation and a newspaper.
    doc.ents = [span("Vladimir", "PERSON"), span("WHO", "ORG"), span("Monday", "DATE"),
                span("Acme Widgets", "ORG"), span("Washington Post", "ORG")]
    entry = {"persons": ["Vladimir Putin"], "organizations": ["World Health Organization"],
             "locations": ["Washington"]}
    found = {(text[s:e], label) for s, e, label in reference_ents(doc, entry)}
    assert found == {("Vladimir Putin", "PERSON"), ("Putin", "PERSON"), ("WHO", "ORG"),
                     ("Monday", "DATE"),  # other labels stay as the model found them
                     ("Washington Post", "ORG")}  # a gold place inside a longer name is no place
    # "Acme Widgets": an organisation no annotator kept is taught as no entity.
    assert {"Vladimir Putin", "Putin"} <= gold_forms("persons", "Vladimir Putin")
    assert "WHO" in gold_forms("organizations", "World Health Organization")
