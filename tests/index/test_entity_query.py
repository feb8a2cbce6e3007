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


def test_a_value_also_searches_the_name_without_its_title_or_possessive_and_its_spelling_key() -> None:
    assert rewrite_entity_fields('persons:"President Zelensky"') == (
        'persons_alias:("President Zelensky" OR "Zelensky")')
    assert rewrite_entity_fields("persons:Putin's AND title:talks") == (
        "persons_alias:(Putin's OR \"Putin\" OR \"putins\") AND title:talks")
    assert rewrite_entity_fields("locations:U.S.") == 'locations_alias:(U.S. OR "us")'
    assert rewrite_entity_fields(r"persons:al\-Assad") == r'persons_alias:(al\-Assad OR "al assad")'
    # Each value of a group, at any depth; a boost stays on the value it was given to.
    assert rewrite_entity_fields('persons:(Xi OR ("Mr. Xi" AND Putin))^2') == (
        'persons_alias:(Xi OR (("Mr. Xi" OR "Xi" OR "mr xi") AND Putin))^2')
    assert rewrite_entity_fields('organizations:"the Pentagon"^2') == (
        'organizations_alias:("the Pentagon" OR "Pentagon")^2')


def test_wildcards_regular_expressions_ranges_and_proximity_are_searched_as_written() -> None:
    for query in ("persons:Zelensk*", "persons:/assa.*/", "persons:[A TO C]", 'persons:"Mr. Putin"~2',
                  "persons:Putn~1", "persons:", 'persons:"unclosed'):
        assert rewrite_entity_fields(query) == "persons_alias" + query[len("persons"):]


def test_a_filter_searches_the_same_forms_as_a_query() -> None:
    assert filter_clause("persons", "President Putin") == {
        "terms": {"persons_alias": ["President Putin", "Putin"]}}
    assert filter_clause("locations", "Sao-Paulo") == {
        "terms": {"locations_alias": ["Sao-Paulo", "sao paulo"]}}
