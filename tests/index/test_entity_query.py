"""Queries on entity fields search every spelling: the rewrite is pure, checked without a cluster."""

from __future__ import annotations

from newsflow.index.entity_query import filter_clause, rewrite_entity_fields


def test_entity_field_names_are_rewritten_to_their_spelling_fields() -> None:
    assert rewrite_entity_fields('persons:"Volodymyr Zelensky"') == 'persons_alias:"Volodymyr Zelensky"'
    assert rewrite_entity_fields("locations:Kiev AND (organizations:NATO OR -persons:Xi)") == (
        "locations_alias:Kiev AND (organizations_alias:NATO OR -persons_alias:Xi)")
    assert rewrite_entity_fields("persons : (Xi OR Putin)") == "persons_alias : (Xi OR Putin)"


def test_other_fields_words_phrases_and_escapes_are_left_alone() -> None:
    for query in ('title:persons', '"persons:Xi"', 'body:"locations: Paris"', r"persons\:Xi",
                  "_exists_:persons", "salespersons:Xi", "persons_alias:Xi", "topics:politics"):
        assert rewrite_entity_fields(query) == query


def test_a_filter_on_an_entity_field_searches_its_spellings() -> None:
    assert filter_clause("persons", "Zelensky") == {"term": {"persons_alias": "Zelensky"}}
    assert filter_clause("source", "BBC") == {"term": {"source": "BBC"}}
