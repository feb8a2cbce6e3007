"""Canonical entity names: the rules, on a blank spaCy pipeline (no model needed)."""

from __future__ import annotations

import spacy
from spacy.tokens import Span

from enrich import components
from enrich.canonical import Entities, EntityRules, Mention, canonical_entities, confirmed_mentions
from enrich.ner import NerText


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
                                     ("al-Hakim", "PERSON"), ("every Hari Prasad", "PERSON")))
    assert result.persons == ("Muhammad", "de Gaulle", "al-Hakim", "Hari Prasad")


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
    nlp.add_pipe("newsflow_entity_canonicalizer_v2")
    doc = nlp.make_doc("Vladimir Putin met the U.S. National Security Council . Putin left .")
    doc.ents = [Span(doc, 0, 2, "PERSON"), Span(doc, 3, 8, "ORG"), Span(doc, 10, 11, "PERSON")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    assert doc._.get(components.ENTITIES_ATTR) == Entities(
        persons=("Vladimir Putin",), organizations=("National Security Council",), locations=(),
        persons_alias=("Vladimir Putin", "Putin", "Vladimir V. Putin"),
        organizations_alias=("National Security Council",), locations_alias=(), geo=(),
    )


def test_the_components_are_registered_by_versioned_names() -> None:
    from spacy.util import registry

    factories = registry.factories.get_all()
    assert "newsflow_entity_canonicalizer_v2" in factories
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
    nlp.add_pipe("newsflow_entity_canonicalizer_v2")
    doc = components.ner_doc(nlp, NerText("Dermatitis Linked To Barrier Diseases", "A study in Boston ."))
    assert doc.text == "Dermatitis Linked To Barrier Diseases\n\nA study in Boston ."
    doc.ents = [Span(doc, 0, 1, "ORG"), Span(doc, 9, 10, "GPE")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    entities = doc._.get(components.ENTITIES_ATTR)
    assert (entities.persons, entities.organizations, entities.locations) == ((), (), ("Boston",))


def test_a_text_without_a_title_beside_it_has_no_title_to_confirm() -> None:
    # The title is carried beside the text, not looked for at the first blank line: in an article
    # without a title, the first paragraph is text.
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v2")
    doc = components.ner_doc(nlp, NerText("", "Dermatitis Linked To Barrier Diseases\n\nA study in Boston ."))
    doc.ents = [Span(doc, 0, 1, "ORG"), Span(doc, 9, 10, "GPE")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    assert doc._.get(components.ENTITIES_ATTR).organizations == ("Dermatitis",)


def test_the_typed_results_survive_doc_serialisation() -> None:
    # What spaCy's own nlp.pipe(n_process=...) does with every Doc on its way back to the parent.
    from spacy.tokens import Doc

    from enrich.topics import TopicEvidence

    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v2")
    doc = components.ner_doc(nlp, NerText("Putin visits Berlin", "Vladimir Putin arrived ."))
    doc.ents = [Span(doc, 0, 1, "PERSON"), Span(doc, 2, 3, "GPE"), Span(doc, 4, 6, "PERSON")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    doc._.set(components.TOPIC_EVIDENCE_ATTR, TopicEvidence((0.5, -1.25), (2, 0)))
    back = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert back._.get(components.ENTITIES_ATTR) == doc._.get(components.ENTITIES_ATTR)
    assert back._.get(components.ENTITIES_ATTR).geo == doc._.get(components.ENTITIES_ATTR).geo != ()
    assert back._.get(components.TOPIC_EVIDENCE_ATTR) == TopicEvidence((0.5, -1.25), (2, 0))
    assert back._.get(components.NER_TEXT_ATTR) == NerText("Putin visits Berlin", "Vladimir Putin arrived .")


def test_every_spelling_of_a_known_person_gets_the_canonical_name() -> None:
    for spelling in ("Zelenskyy", "Zelensky", "Zelenskiy", "Volodymyr Zelensky", "President Zelensky"):
        result = canonical_entities(ents((spelling, "PERSON")))
        assert result.persons == ("Volodymyr Zelenskyy",), spelling


def test_the_article_spelling_and_the_table_aliases_are_kept_for_queries() -> None:
    result = canonical_entities(ents(("Zelensky", "PERSON"), ("Kiev", "GPE")))
    assert result.persons == ("Volodymyr Zelenskyy",)
    assert {"Volodymyr Zelenskyy", "Zelensky", "Zelenskiy"} <= set(result.persons_alias)
    assert result.locations == ("Kyiv",)
    assert {"Kyiv", "Kiev"} <= set(result.locations_alias)


def test_an_unknown_name_keeps_the_article_forms_as_its_spellings() -> None:
    result = canonical_entities(ents(("Jane Q. Doe", "PERSON"), ("Doe", "PERSON")))
    assert result.persons == ("Jane Q. Doe",)
    assert result.persons_alias == ("Jane Q. Doe", "Doe")


def test_the_gazetteer_knows_countries_subdivisions_and_cities_with_coordinates() -> None:
    result = canonical_entities(ents(("Russian Federation", "GPE"), ("Nordrhein-Westfalen", "GPE"),
                                     ("Tbilisi", "GPE"), ("Sao Paulo", "GPE")))
    assert result.locations == ("Russia", "Nordrhein-Westfalen", "Tbilisi", "Sao Paulo")
    assert result.geo == ((41.6914, 44.8341), (-23.5475, -46.6361))  # the cities; no point for an area


def test_a_major_place_the_model_calls_an_organisation_or_person_is_a_location() -> None:
    result = canonical_entities(ents(("Kyiv", "ORG"), ("Texas", "PERSON"), ("Ukraine", "ORG")))
    assert result.locations == ("Kyiv", "Texas", "Ukraine")
    assert result.organizations == () and result.persons == ()


def test_a_minor_place_name_keeps_the_model_label_and_a_surname_its_person() -> None:
    result = canonical_entities(ents(("Ketanji Brown Jackson", "PERSON"), ("Jackson", "GPE"),
                                     ("Tobias Harris", "PERSON"), ("Harris", "PERSON"), ("Reading", "ORG")))
    assert result.persons == ("Ketanji Brown Jackson", "Tobias Harris")
    assert result.organizations == ("Reading",)
    assert result.locations == ()


def test_the_entity_table_has_a_stable_id_per_entry() -> None:
    from enrich.canonical import default_rules

    table = default_rules().table
    zelenskyy = table.lookup("Zelensky")
    assert zelenskyy is not None and zelenskyy.id == "newsflow:persons/volodymyr-zelensky"
    assert zelenskyy.qid == "Q3881545"
    kyiv = table.lookup("Kiev")
    assert kyiv is not None and kyiv.id == "geonames:703448" and kyiv.lat is not None
    ukraine = table.lookup("Ukraine")
    assert ukraine is not None and ukraine.id == "iso3166:UA"
    assert len(table) > 9000


def test_nationalities_holidays_products_and_events_are_none_of_the_facets() -> None:
    result = canonical_entities(ents(
        ("Ukrainian", "GPE"), ("Israelis", "ORG"), ("Sunni", "ORG"), ("Ramadan", "PERSON"),
        ("Power of Siberia 2", "ORG"), ("Nord Stream 2", "ORG"), ("Paris Olympics", "ORG"),
        ("Inflation Reduction Act", "ORG"), ("Independence Day", "GPE"), ("Doris Day", "PERSON"),
    ))
    assert result == canonical_entities(ents(("Doris Day", "PERSON")))
    assert result.persons == ("Doris Day",)


def test_photo_credits_and_lone_generic_words_are_not_entities() -> None:
    result = canonical_entities(ents(("Jane Doe/Getty Images", "PERSON"), ("AFP via Getty", "ORG"),
                                     ("Police", "ORG"), ("Government", "ORG"), ("Opinion", "ORG")))
    assert result == Entities()


def test_place_names_are_written_as_english_news_writes_them() -> None:
    result = canonical_entities(ents(("Montréal", "GPE"), ("Karnataka", "GPE"), ("Karnātaka", "GPE")))
    assert result.locations == ("Montreal", "Karnataka")
