"""Canonical entity names: the rules, on a blank spaCy pipeline (no model needed)."""

from __future__ import annotations

import spacy
from spacy.tokens import Span

from enrich import components
from enrich.canonical import Entities, EntityRules, Mention, canonical_entities, confirmed_mentions


def ents(*pairs: tuple[str, str]) -> list[Mention]:
    return [Mention(text, label) for text, label in pairs]


def test_a_later_surname_is_absorbed_by_the_full_name() -> None:
    result = canonical_entities(ents(("Vladimir Putin", "PERSON"), ("Putin", "PERSON"), ("Putin's", "ORG")))
    assert result.persons == ("Vladimir Putin",)
    assert result.organizations == ()


def test_a_leading_country_and_article_are_stripped_from_an_organisation() -> None:
    result = canonical_entities(ents(("the U.S. National Security Council", "ORG")))
    assert result.organizations == ("National Security Council",)


def test_a_one_word_organisation_keeps_its_country() -> None:
    assert canonical_entities(ents(("U.S. Army", "ORG"))).organizations == ("U.S. Army",)


def test_possessives_titles_and_leading_articles_are_stripped() -> None:
    result = canonical_entities(ents(
        ("Greece's", "GPE"), ("the Netherlands", "GPE"), ("President Joe Biden", "PERSON"),
        ("Dr. Jane Smith’s", "PERSON"),
    ))
    assert result.locations == ("Greece", "Netherlands")
    assert result.persons == ("Joe Biden", "Jane Smith")


def test_a_leading_lowercase_word_is_not_part_of_a_name_unless_a_particle() -> None:
    result = canonical_entities(ents(("prophet Muhammad", "PERSON"), ("de Gaulle", "PERSON"),
                                     ("al-Assad", "PERSON"), ("every Hari Raya", "PERSON")))
    assert result.persons == ("Muhammad", "de Gaulle", "al-Assad", "Hari Raya")


def test_quotes_after_a_leading_article_are_stripped() -> None:
    assert canonical_entities(ents(('the "Acme Group', "ORG"),)).organizations == ("Acme Group",)


def test_obvious_false_positives_are_dropped() -> None:
    result = canonical_entities(ents(
        ("2020", "GPE"), ("X", "ORG"), ("minister", "PERSON"), ("Tuesday", "ORG"), ("5:30", "ORG"),
        ("Coronavirus: Motor", "ORG"), ("Covid-19", "PERSON"), ("https://example.com", "ORG"),
    ))
    assert result == Entities()


def test_date_and_number_labels_never_reach_a_facet() -> None:
    mentions = ents(("March 5", "DATE"), ("Three", "CARDINAL"), ("British", "NORP"))
    assert canonical_entities(mentions) == Entities()


def test_aliases_map_variants_to_one_name_and_fix_the_facet() -> None:
    result = canonical_entities(ents(("U.S.", "GPE"), ("US", "ORG"), ("the United States", "GPE"),
                                     ("UN", "ORG"), ("the U.N.", "ORG"), ("Trump", "PERSON")))
    assert result.locations == ("United States",)
    assert result.organizations == ("United Nations",)
    assert result.persons == ("Donald Trump",)


def test_a_lowercase_word_is_not_an_alias() -> None:
    assert canonical_entities(ents(("us", "GPE"))).locations == ()


def test_an_acronym_of_an_organisation_in_the_article_is_that_organisation() -> None:
    result = canonical_entities(ents(("Environmental Protection Agency", "ORG"), ("EPA", "ORG"),
                                     ("Office of Research and Development", "ORG"), ("ORD", "ORG")))
    assert result.organizations == ("Environmental Protection Agency", "Office of Research and Development")


def test_a_surname_the_model_tagged_as_a_place_goes_to_the_person() -> None:
    result = canonical_entities(ents(("Jacinda Ardern", "PERSON"), ("Ardern", "GPE"), ("Wellington", "GPE")))
    assert result.persons == ("Jacinda Ardern",)
    assert result.locations == ("Wellington",)


def test_a_facility_is_a_location_only_when_it_names_a_place() -> None:
    result = canonical_entities(ents(("Heathrow Airport", "FAC"), ("the Power of Siberia 2", "FAC")))
    assert result.locations == ("Heathrow Airport",)


def test_capitals_of_a_dateline_are_uncapped_but_acronyms_stay() -> None:
    result = canonical_entities(ents(("SINGAPORE", "GPE"), ("NATO", "ORG")))
    assert result.locations == ("Singapore",)
    assert result.organizations == ("NATO",)


def test_names_come_in_order_of_first_mention_once_each() -> None:
    result = canonical_entities(ents(("Paris", "GPE"), ("Berlin", "GPE"), ("Paris", "GPE")))
    assert result.locations == ("Paris", "Berlin")


def test_the_alias_table_is_data_that_can_be_replaced() -> None:
    rules = EntityRules.from_mapping({"aliases": {"organizations": {"Acme Corporation": ["Acme"]}}})
    assert canonical_entities(ents(("Acme", "ORG")), rules).organizations == ("Acme Corporation",)


def test_the_component_sets_the_canonical_names_on_the_doc() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v1")
    doc = nlp.make_doc("Vladimir Putin met the U.S. National Security Council . Putin left .")
    doc.ents = [Span(doc, 0, 2, "PERSON"), Span(doc, 3, 8, "ORG"), Span(doc, 10, 11, "PERSON")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v1")(doc)
    assert doc._.get(components.ENTITIES_ATTR) == {
        "persons": ["Vladimir Putin"], "organizations": ["National Security Council"], "locations": [],
    }


def test_the_components_are_registered_by_versioned_names() -> None:
    from spacy.util import registry

    factories = registry.factories.get_all()
    assert "newsflow_entity_canonicalizer_v1" in factories
    assert "newsflow_topic_evidence_v1" in factories


def test_a_name_does_not_end_in_a_lowercase_word() -> None:
    assert canonical_entities(ents(("Seborrheic Dermatitis Linked to", "ORG"))) == Entities()
    assert canonical_entities(ents(("Leonardo da Vinci", "PERSON"))).persons == ("Leonardo da Vinci",)


def test_an_honorific_before_a_short_name_makes_a_person_of_an_org_mention() -> None:
    result = canonical_entities(ents(("King Felipe VI", "ORG"), ("Prince Charles Hospital", "ORG")))
    assert result.persons == ("Felipe VI",)
    assert result.organizations == ("Prince Charles Hospital",)


def test_a_headline_case_title_needs_its_names_confirmed_by_the_text() -> None:
    title = "Seborrheic Dermatitis Linked to Epithelial Barrier Diseases in Adults"
    text = "Adults with seborrheic dermatitis, a study in Boston found."
    mentions = [(Mention("Seborrheic Dermatitis", "ORG"), True), (Mention("Boston", "GPE"), True),
                (Mention("Boston", "GPE"), False)]
    assert confirmed_mentions(mentions, title, text) == [Mention("Boston", "GPE"), Mention("Boston", "GPE")]


def test_a_sentence_case_title_or_a_title_alone_is_trusted() -> None:
    mention = [(Mention("Kim Jong Un", "PERSON"), True)]
    assert confirmed_mentions(mention, "Kim Jong Un appears at a factory opening", "Photos showed.") == [
        Mention("Kim Jong Un", "PERSON")]
    assert confirmed_mentions(mention, "Kim Jong Un Appears at a Factory Opening", "") == [
        Mention("Kim Jong Un", "PERSON")]


def test_the_component_confirms_headline_names_against_the_body() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v1")
    doc = nlp.make_doc("Dermatitis Linked To Barrier Diseases\n\nA study in Boston .")
    doc.ents = [Span(doc, 0, 1, "ORG"), Span(doc, 9, 10, "GPE")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v1")(doc)
    assert doc._.get(components.ENTITIES_ATTR) == {
        "persons": [], "organizations": [], "locations": ["Boston"],
    }
