"""Entity types and what is not an entity: the table and the gazetteer fix the type, products, events
and generic words never reach a facet, headings and channel boilerplate are not names (no model)."""

from __future__ import annotations

import spacy
from spacy.tokens import Span

from enrich import components
from enrich.canonical import (
    Entities,
    Mention,
    after_place_word,
    canonical_entities,
    confirmed_mentions,
    default_rules,
    standalone_mention,
)
from enrich.credits import read_credits
from tests.enrich.canonicalizer import canonicalized


def ents(*pairs: tuple[str, str]) -> list[Mention]:
    return [Mention(text, label) for text, label in pairs]


def test_a_city_the_model_calls_a_person_is_a_place_when_the_article_places_it() -> None:
    result = canonical_entities(ents(("Sylhet", "PERSON"), ("Dhaka", "GPE")))
    assert result.locations == ("Sylhet", "Dhaka") and result.persons == ()


def test_an_unplaced_surname_that_is_also_a_town_stays_a_person() -> None:
    # "Bush v. Gore": a town of that name far from anything the article places is not meant.
    result = canonical_entities(ents(("Bush", "PERSON"), ("Gore", "PERSON"), ("Washington", "GPE")))
    assert result.persons == ("Bush", "Gore")


def test_a_lone_place_name_tagged_an_organisation_is_a_place_after_a_place_preposition() -> None:
    def tagged_org(text: str, *names: str) -> Entities:
        return canonical_entities([Mention(n, "ORG", after_place_word(text, text.index(n))) for n in names],
                                  text=text)

    assert tagged_org("Floods hit homes in the Sylhet region.", "Sylhet").locations == ("Sylhet",)
    assert tagged_org("Fans in Reading cheered on Sunday.", "Reading").locations == ("Reading",)
    assert tagged_org("Students from Mangaluru won.", "Mangaluru").locations == ("Mangaluru",)
    # The club, as the model tagged it: a subject, or after "to" (lost to, moved to).
    assert tagged_org("Lyon beat Reading 2-1.", "Lyon", "Reading").organizations == ("Lyon", "Reading")
    assert tagged_org("The striker moved to Lyon.", "Lyon").organizations == ("Lyon",)


def test_named_storms_battles_and_operations_are_events_in_every_facet() -> None:
    result = canonical_entities(ents(("Hurricane Helene", "PERSON"), ("Tropical Cyclone Gezani", "ORG"),
                                     ("Siege of Boston", "ORG"), ("Operation Sindoor", "ORG"),
                                     ("Rose Monday Parade", "ORG"), ("Boston", "GPE"),
                                     ("Battle Creek", "GPE")))
    assert result == canonical_entities(ents(("Boston", "GPE"), ("Battle Creek", "GPE")))
    assert result.locations == ("Boston", "Battle Creek")


def test_a_place_name_tagged_an_organisation_in_several_words_is_a_place() -> None:
    result = canonical_entities(ents(("Richmond Hill", "ORG"), ("Cortina", "NORP"), ("Western", "NORP")))
    assert result.locations[:1] == ("Richmond Hill",) and result.organizations == ()


def test_rivers_regions_and_abbreviated_states_are_places_whatever_the_label() -> None:
    result = canonical_entities(ents(("Tigris", "ORG"), ("Southeast Asia", "ORG"), ("Conn.", "GPE"),
                                     ("Ont.", "GPE"), ("NZ", "GPE"), ("Vegas", "GPE")))
    assert result.locations == ("Tigris", "Southeast Asia", "Connecticut", "Ontario", "New Zealand",
                                "Las Vegas")


def test_clubs_and_companies_named_like_places_are_organisations() -> None:
    result = canonical_entities(ents(("Manchester City", "GPE"), ("West Ham", "LOC"), ("Verizon", "GPE")))
    assert result.organizations == ("Manchester City", "West Ham United", "Verizon")
    assert result.locations == ()


def test_products_platforms_standards_and_events_are_none_of_the_facets() -> None:
    result = canonical_entities(ents(
        ("Instagram", "PERSON"), ("WhatsApp", "ORG"), ("Alexa", "ORG"), ("Chromebook", "ORG"),
        ("Firefox", "PERSON"), ("BIOS", "ORG"), ("UEFI", "ORG"), ("DVR", "ORG"), ("CES", "ORG"),
        ("CES 2017", "ORG"), ("GNOME 3.8", "ORG"), ("Olympic", "LOC"), ("Euro 2024", "ORG"),
    ))
    assert result == Entities()


def test_a_product_after_its_makers_name_gives_the_maker_but_a_technical_term_is_part_of_the_name() -> None:
    result = canonical_entities(ents(("Adobe Flash", "PERSON"), ("Amazon Kindle", "ORG"),
                                     ("Oval Office", "ORG"), ("Scale AI", "ORG")))
    assert result.organizations == ("Adobe", "Amazon", "Oval Office", "Scale AI") and result.persons == ()


def test_lone_generic_words_and_heavenly_bodies_are_not_entities() -> None:
    result = canonical_entities(ents(("Govt", "ORG"), ("Bank", "ORG"), ("Moon", "PERSON"), ("Earth", "LOC"),
                                     ("Islam", "ORG"), ("Karnataka Bank", "ORG")))
    assert result == canonical_entities(ents(("Karnataka Bank", "ORG")))


def test_indian_honorifics_are_titles() -> None:
    result = canonical_entities(ents(("Shri Arjun Ram Meghwal", "ORG"), ("Shri Raghurama", "PERSON")))
    assert result.persons == ("Arjun Ram Meghwal", "Raghurama") and result.organizations == ()


def test_a_known_name_in_a_headline_case_title_is_kept_without_the_text_repeating_it() -> None:
    title = "Kim Jong Un Is Doing Everything He Can to Keep North Korea's Youth in Line"
    mentions = [(Mention("Kim Jong Un", "PERSON"), True), (Mention("North Korea's", "GPE"), True),
                (Mention("Line", "GPE"), True)]
    kept = confirmed_mentions(mentions, title, "The dictator has been exalting a brigade.", default_rules())
    assert kept == [Mention("Kim Jong Un", "PERSON"), Mention("North Korea's", "GPE")]


def test_a_name_alone_on_its_line_is_a_heading_or_signature() -> None:
    text = "Title\n\nThe show was quiet.\n\nâ€” Dan Seifert\nOpinion\nSeifert met Dan Seifert."
    assert standalone_mention(text, text.index("Dan"), text.index("Dan") + 11)
    assert standalone_mention(text, text.index("Opinion"), text.index("Opinion") + 7)
    last = text.rindex("Dan Seifert")
    assert not standalone_mention(text, last, last + 11)


def test_the_component_drops_headings_and_signatures_unless_the_prose_names_them() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v2")
    doc = nlp.make_doc("Awards at the show\n\nThe show in Boston was quiet .\n\nDan Seifert\n\nBoston")
    doc.ents = [Span(doc, 8, 9, "GPE"), Span(doc, 13, 15, "PERSON"), Span(doc, 16, 17, "GPE")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    entities = doc._.get(components.ENTITIES_ATTR)
    assert (entities.persons, entities.locations) == ((), ("Boston",))


def test_channel_links_hashtags_and_self_descriptions_are_cut_before_ner() -> None:
    text = ("Chloe Swarbrick on strategy\n\n"
            "David Seymour says the Govt was unprepared. #FoxNews #Breakfast\n\n"
            "FOLLOW BREAKFAST ON SOCIAL MEDIA Facebook: https://www.facebook.com/b/ Instagram: "
            "https://www.instagram.com/b/\n\n"
            "24 Oras is GMA Network's flagship newscast, anchored by Mike Enriquez. It airs on GMA-7.\n\n"
            "About National Geographic: National Geographic is the world's premium destination.\n\n"
            "This is the official channel of TVNZ's 1News.\n\n"
            "[Liberian Observer] Panic rippled across Liberia. For more videos, visit http://x.example/24.")
    cut = read_credits(text).text
    for gone in ("FoxNews", "Facebook", "Instagram", "Mike Enriquez", "National Geographic", "TVNZ",
                 "Liberian Observer", "visit"):
        assert gone not in cut, gone
    assert "David Seymour says the Govt was unprepared." in cut
    assert "Panic rippled across Liberia." in cut


def test_a_dateline_opening_the_body_is_cut_and_its_wire_credited() -> None:
    cases = {
        "Rebels deny truce\n\nAMMAN/BEIRUT (Reuters) - A rebel official denied it.":
            "A rebel official denied it.",
        "Bank wins award\n\nMangaluru: Karnataka Bank has won.": "Karnataka Bank has won.",
        "Net links Mars\n\nErfoud, Morocco (SPX) Apr 03, 2013\n\nThe firm said.": "The firm said.",
        "Oil falls\n\nLONDON, Nov 30 (Reuters) - Oil fell.": "Oil fell.",
    }
    for text, body in cases.items():
        lines = read_credits(text)
        assert lines.text.split("\n\n", 1)[1].strip() == body, text
    assert read_credits("Oil falls\n\nLONDON, Nov 30 (Reuters) - Oil fell.").credit == ("Reuters",)


def test_a_byline_opening_the_body_is_cut_with_the_dateline_after_it() -> None:
    cases = {
        "Envoys juggle talks\n\nBy Jane Doe, Ann Le Roe and Bo Poe\n\nWASHINGTON/GENEVA, Feb 17 (Reuters) - "
        "Even for a president.": "Even for a president.",
        "Floods\n\nBy Robin Roe, RNZ\n\nThe river rose.": "The river rose.",
    }
    for text, body in cases.items():
        assert read_credits(text).text.split("\n\n", 1)[1].strip() == body, text
    # A sentence starting with "By" is no byline; after a byline, a short line is no dateline.
    for text in ("Title\n\nBy Tuesday the rebels had left the city.\n\nMore.",
                 "Title\n\nBy Jane Doe\n\nReuters Holdings"):
        assert read_credits(text).text.endswith(text.rsplit("\n\n", 1)[1]), text
    assert "By Tuesday" in read_credits("Title\n\nBy Tuesday the rebels had left the city.").text


def test_a_body_that_opens_with_a_name_in_a_sentence_keeps_it() -> None:
    for text in ("Title\n\nChloe Swarbrick says she is not clear.", "Title\n\nThe bank raised rates - a lot.",
                 "Title\n\nJoe Biden, the president, spoke."):
        assert read_credits(text).text == text


def _component_entities(text: str, *spans: tuple[str, str]) -> Entities:
    return canonicalized(text, *spans)


def test_a_facility_tagged_an_organisation_is_a_place_after_a_place_preposition() -> None:
    for text, name in (
        ("Title\n\nThe infant died in Middlemore Hospital on April 13.", "Middlemore Hospital"),
        ("Title\n\nA morning shooting at Grand Forks Air Force Base left two dead.",
         "Grand Forks Air Force Base"),
        ("Title\n\nHundreds watched from Liberty State Park.", "Liberty State Park"),
        ("Title\n\nThe shooting at Tumbler Ridge Secondary School shocked the town.",
         "Tumbler Ridge Secondary School"),
        ("Title\n\nHe prayed for the New Year at Meiji Shrine in Tokyo.", "Meiji Shrine"),
    ):
        result = _component_entities(text, (name, "ORG"))
        assert (result.locations, result.organizations) == ((name,), ()), text


def test_a_kind_of_place_no_organisation_is_named_for_is_a_place_whatever_precedes_it() -> None:
    result = _component_entities("Title\n\nThe Crossroads Hotel cluster grew. El Salvador's National Zoo "
                                 "closed. Manukau Harbour would not work as a port.",
                                 ("Crossroads Hotel", "ORG"), ("National Zoo", "ORG"),
                                 ("Manukau Harbour", "ORG"))
    assert result.locations == ("Crossroads Hotel", "National Zoo", "Manukau Harbour")
    assert result.organizations == ()


def test_institutions_and_facilities_without_a_place_preposition_stay_organisations() -> None:
    # Hospitals and schools acting; universities, colleges, centres and councils even after "at";
    # an entry of the table whatever comes before it.
    result = _component_entities(
        "Title\n\nMemorial Hermann Hospital said it was ready. A professor at Princeton University, "
        "a guard who worked at the California Rehabilitation Center, a nun at St. John's Medical College "
        "and a clerk at Fairfax County Council met at the Pentagon.",
        ("Memorial Hermann Hospital", "ORG"), ("Princeton University", "ORG"),
        ("California Rehabilitation Center", "ORG"), ("St. John's Medical College", "ORG"),
        ("Fairfax County Council", "ORG"), ("Pentagon", "ORG"))
    assert result.organizations == ("Memorial Hermann Hospital", "Princeton University",
                                    "California Rehabilitation Center", "St. John's Medical College",
                                    "Fairfax County Council", "Pentagon")
    assert result.locations == ()


def test_a_name_before_a_product_vehicle_mission_or_instrument_noun_is_that_product() -> None:
    result = _component_entities(
        "Title\n\nThe Orion capsule flew on the Artemis mission. Slides from a PowerPoint presentation "
        "praised Snapdragon chips.",
        ("Orion", "ORG"), ("Artemis", "ORG"), ("PowerPoint", "ORG"), ("Snapdragon", "ORG"))
    assert result == Entities()


def test_every_mention_of_a_name_the_article_calls_a_product_is_that_product() -> None:
    result = _component_entities("Title\n\nPlanck data ruled the models out, said the Planck mission team.",
                                 ("Planck", "ORG"), ("the Planck", "ORG"))
    assert result.organizations == ()


def test_a_known_maker_an_owner_or_a_job_title_before_a_product_noun_stays_an_organisation() -> None:
    result = _component_entities(
        "Title\n\nApple software runs on a SpaceX rocket. Acme's software failed. The House speaker, "
        "RAF planes and a McLaren driver watched the CBS Sports app.",
        ("Apple", "ORG"), ("SpaceX", "ORG"), ("Acme", "ORG"), ("House", "ORG"), ("RAF", "ORG"),
        ("McLaren", "ORG"), ("CBS Sports", "ORG"))
    # RAF is a table spelling of the Royal Air Force, so it takes the canonical name
    assert result.organizations == ("Apple", "SpaceX", "Acme", "House", "Royal Air Force", "McLaren",
                                    "CBS Sports")


def test_machines_vehicles_and_instruments_named_by_their_last_words_are_not_entities() -> None:
    result = canonical_entities(ents(
        ("Large Hadron Collider", "ORG"), ("Alpha Magnetic Spectrometer", "ORG"),
        ("International Space Station", "ORG"), ("International Space Station", "FAC"),
        ("Hubble Space Telescope", "ORG"), ("Jaguar Land Rover", "ORG"),
        ("Kennedy Space Center", "FAC"), ("Paranal Observatory", "FAC")))
    assert result.organizations == ("Jaguar Land Rover",)  # a carmaker, not a rover
    assert result.locations == ("Kennedy Space Center", "Paranal Observatory")


def test_lakes_reefs_gardens_hotels_and_shrines_tagged_facilities_are_places() -> None:
    result = canonical_entities(ents(("Darien Lake", "FAC"), ("Great Barrier Reef", "FAC"),
                                     ("U.S. Botanic Garden", "FAC"), ("Raffles Hotel", "FAC"),
                                     ("Infant Jesus Shrine", "FAC")))
    assert result.locations == ("Darien Lake", "Great Barrier Reef", "U.S. Botanic Garden", "Raffles Hotel",
                                "Infant Jesus Shrine")
