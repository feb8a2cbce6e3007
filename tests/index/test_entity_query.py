"""Queries on entity fields search every spelling: the rewrite is pure, checked without a cluster."""

from __future__ import annotations

from newsflow.index.entity_query import filter_clause, rewrite_entity_fields


# Names the entity table does not know, so a value is searched as written (with its key, if any).
def test_entity_field_names_are_rewritten_to_their_spelling_fields() -> None:
    assert rewrite_entity_fields('persons:"Jane Roe"') == 'persons_alias:"Jane Roe"'
    assert rewrite_entity_fields("locations:Yonderville AND (organizations:Acme OR -persons:Roe)") == (
        "locations_alias:Yonderville AND (organizations_alias:Acme OR -persons_alias:Roe)")
    assert rewrite_entity_fields("persons : (Roe OR Doe)") == "persons_alias : (Roe OR Doe)"


def test_a_value_naming_an_entity_of_the_table_searches_all_its_spellings() -> None:
    assert rewrite_entity_fields("locations:Kiev") == 'locations_alias:(Kiev OR "Kyiv")'
    # Looked up as the enrichment looks up a mention, else by its key when one entity has it.
    assert rewrite_entity_fields('persons:"bashar al assad"') == (
        'persons_alias:("bashar al assad" OR "Bashar al-Assad" OR "Bashar Assad" OR "Assad" OR "al-Assad"'
        ' OR "al assad")')
    assert rewrite_entity_fields("persons:Kiev") == "persons_alias:Kiev"  # a place, not a person


def test_other_fields_words_phrases_and_escapes_are_left_alone() -> None:
    for query in ('title:persons', '"persons:Xi"', 'body:"locations: Paris"', r"persons\:Xi",
                  "_exists_:persons", "salespersons:Xi", "persons_alias:Xi", "topics:politics"):
        assert rewrite_entity_fields(query) == query


def test_a_filter_on_an_entity_field_searches_its_spellings() -> None:
    assert filter_clause("persons", "Roe") == {"term": {"persons_alias": "Roe"}}
    assert filter_clause("source", "BBC") == {"term": {"source": "BBC"}}


def test_a_value_also_searches_the_name_without_its_title_or_possessive_and_its_spelling_key() -> None:
    assert rewrite_entity_fields('persons:"President Roe"') == 'persons_alias:("President Roe" OR "Roe")'
    assert rewrite_entity_fields("persons:Roe's AND title:talks") == (
        "persons_alias:(Roe's OR \"Roe\" OR \"roes\") AND title:talks")
    assert rewrite_entity_fields("locations:U.N.O.W.") == 'locations_alias:(U.N.O.W. OR "unow")'
    assert rewrite_entity_fields(r"persons:al\-Roe") == r'persons_alias:(al\-Roe OR "al roe")'
    # Each value of a group, at any depth; a boost stays on the value it was given to.
    assert rewrite_entity_fields('persons:(Roe OR ("Mr. Roe" AND Doe))^2') == (
        'persons_alias:(Roe OR (("Mr. Roe" OR "Roe" OR "mr roe") AND Doe))^2')
    assert rewrite_entity_fields('organizations:"the Acme Works"^2') == (
        'organizations_alias:("the Acme Works" OR "Acme Works")^2')


def test_wildcards_regular_expressions_ranges_and_proximity_are_searched_as_written() -> None:
    for query in ("persons:Zelensk*", "persons:/assa.*/", "persons:[A TO C]", 'persons:"Mr. Roe"~2',
                  "persons:Putn~1", "persons:", 'persons:"unclosed'):
        assert rewrite_entity_fields(query) == "persons_alias" + query[len("persons"):]


def test_a_filter_searches_the_same_forms_as_a_query() -> None:
    assert filter_clause("persons", "President Roe") == {"terms": {"persons_alias": ["President Roe", "Roe"]}}
    assert filter_clause("locations", "Yonder-ville") == {
        "terms": {"locations_alias": ["Yonder-ville", "yonder ville"]}}
