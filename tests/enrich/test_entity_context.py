"""Entities read in their context (issue 17, round 2026.12-6): lines made of names only, a country
before its currency or in a tournament's name, a signature at the end of a title, and the fuller
name a text gives a person the model tagged by one word. The canonicalizer on hand-set spans."""

from __future__ import annotations

from enrich.canonical import Entities, lines_of_names, names_a_currency_or_tournament, signs_the_title
from tests.enrich.canonicalizer import canonicalized


def canonical(text: str, *spans: tuple[str, str]) -> Entities:
    return canonicalized(text, *spans, placement="in_order")


def test_a_line_of_names_and_nothing_else_is_a_tag_not_a_story_entity() -> None:
    text = ("Turning speed predicts risk\n\nTurning speed helps predict risk in older adults.\n\n"
            "Medscape News UK")
    assert canonical(text, ("Medscape News", "ORG"), ("UK", "GPE")) == Entities()
    # The same names in a sentence are the story's.
    prose = "Doctors speak out\n\nMedscape News UK asked doctors in the UK about their pay."
    found = canonical(prose, ("Medscape News", "ORG"), ("UK", "GPE"), ("UK", "GPE"))
    assert found.organizations == ("Medscape News",) and found.locations == ("United Kingdom",)
    line = "x\n\nReuters, London\nJoe Biden and Xi Jinping met."
    starts = lines_of_names(line, [(3, 10), (12, 18), (19, 28), (33, 43)])
    assert starts == {3, 12}  # "and" and "met" are words of a sentence


def test_a_country_before_its_currency_or_in_a_tournament_is_not_a_place_of_the_story() -> None:
    text = "Euro at a high\n\nThe euro rose against the US dollar. Kyrgios left the US Open in the US."
    found = canonical(text, ("US", "GPE"), ("US", "GPE"), ("US", "GPE"))
    assert found.locations == ("United States",)  # only the last one: "in the US"
    assert names_a_currency_or_tournament("the US dollar", 6, "GPE")
    assert names_a_currency_or_tournament("the Qatar Open", 9, "GPE")
    assert not names_a_currency_or_tournament("US dollars", 2, "ORG")  # places only
    assert not names_a_currency_or_tournament("US Openness", 2, "GPE")
    assert not names_a_currency_or_tournament("the US won the match", 6, "GPE")  # a verb, not the currency


def test_a_name_signing_the_title_after_a_bar_is_the_author_unless_the_text_names_it() -> None:
    signed = "The year people yelled fire | Naomi Klein\n\nIt was a year of climate protests."
    assert canonical(signed, ("Naomi Klein", "PERSON")) == Entities()
    about = "Climate talks | Naomi Klein\n\nNaomi Klein spoke at the climate talks."
    assert canonical(about, ("Naomi Klein", "PERSON"), ("Naomi Klein", "PERSON")).persons == ("Naomi Klein",)
    assert signs_the_title(signed, signed.index("Naomi"), signed.index("Naomi") + 11, signed.index("\n"))
    title = "Naomi Klein on the year of fire"  # a name opening the title is the story's subject
    assert not signs_the_title(title + "\n\nx", 0, 11, len(title))


def test_a_one_word_person_takes_the_fuller_name_the_text_writes_it_in() -> None:
    text = ("Futurist remembered\n\nThe futurist Jacque Fresco designed cities. Fresco died in 2017; "
            "when Fresco spoke, people listened.")
    assert canonical(text, ("Fresco", "PERSON"), ("Fresco", "PERSON")).persons == ("Jacque Fresco",)
    # A function word or a title before the surname is no given name.
    titled = "Vote\n\nWhen Fresco spoke, President Fresco listened. Fresco won."
    assert canonical(titled, ("Fresco", "PERSON"), ("Fresco", "PERSON")).persons == ("Fresco",)
    # Two different words before it: which person is meant is not known, so the short form stays.
    two = "Family\n\nJacque Fresco and Maria Fresco arrived. Fresco spoke."
    assert canonical(two, ("Fresco", "PERSON")).persons == ("Fresco",)
    # At a sentence's start every word is capitalised: only a known given name counts there.
    opener = "Funding\n\nStartup Agari raised money on Monday. Agari said it would hire."
    assert canonical(opener, ("Agari", "PERSON"), ("Agari", "PERSON")).persons == ("Agari",)
    known = "Obituary\n\nJohn Severson died. Severson founded a magazine."
    assert canonical(known, ("Severson", "PERSON")).persons == ("John Severson",)
