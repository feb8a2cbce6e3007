"""Headline words, events and works read as organisations (round 6): a common word capitalised by its
place, a title's first word its story never names, schemes, lotteries and cups, journals, and a work
named after the noun of its kind. Pure rules on text written here, then the real model."""

from __future__ import annotations

from typing import Any

from enrich.canonical import (
    Mention,
    canonical_entities,
    confirmed_mentions,
    default_rules,
    names_a_work,
    opens_the_title,
    used_as_a_common_word,
)
from tests.enrich.test_entity_spellings import _article

RULES = default_rules()


def _at(text: str, name: str) -> tuple[int, int]:
    start = text.index(name)
    return start, start + len(name)


def common(text: str, name: str, label: str = "ORG") -> bool:
    return used_as_a_common_word(text, *_at(text, name), label, RULES)


def opens(text: str, name: str, is_word: Any = lambda word: True) -> bool:
    title_end = text.find("\n\n")
    return opens_the_title(text, *_at(text, name), "ORG", title_end, RULES, is_word)


def work(text: str, name: str) -> bool:
    return names_a_work(text, *_at(text, name), "ORG", RULES)


# --- a common word the text also writes in lowercase ---

def test_a_capitalised_word_the_text_writes_in_lowercase_is_no_organisation() -> None:
    assert common("Perks will stop if the UK stays, he said. The perks were generous.", "Perks")
    assert common("Driver's licence photos are bad. One driver said so.", "Driver")
    assert common("Crash probe widens\n\nInvestigators of two crashes said ...", "Crash")


def test_companies_the_table_knows_stay_whatever_the_text_writes() -> None:
    assert not common("Apple sold more phones. He ate an apple.", "Apple")
    assert not common("Shell raised its dividend as a shell company was fined.", "Shell")


def test_a_name_in_an_address_or_a_handle_is_not_a_lowercase_word() -> None:
    assert not common("Nokia struck a deal.\n\nWebsite: nokia.com, @nokia", "Nokia")


def test_a_name_never_written_in_lowercase_or_of_several_words_or_a_person_stays() -> None:
    assert not common("Inova opened a clinic in Fairfax.", "Inova")
    assert not common("Consumer Watch said consumers paid more.", "Consumer Watch")
    assert not common("Rose said prices rose again.", "Rose", label="PERSON")


# --- the title's first word, which the story never names ---

def test_a_titles_first_word_the_story_never_names_is_no_organisation() -> None:
    assert opens("Woman's breathing was not caused by allergy\n\nTo Jean McCathern it seemed ...", "Woman")
    assert opens("Botswana: Perks end for officials\n\nOfficials lose cars.", "Perks")


def test_a_titles_first_word_the_story_names_or_the_table_knows_or_a_rare_name_stays() -> None:
    assert not opens("Inova opens a clinic\n\nInova said the clinic ...", "Inova")
    assert not opens("Apple unveils a phone\n\nThe phone costs more.", "Apple")
    rare = {"chapecoense"}.__contains__  # the model's vocabulary knows no rare club's name
    assert not opens("Chapecoense plane crash survivor walks again\n\nNeto walked.", "Chapecoense",
                     is_word=lambda word: not rare(word))
    assert not opens("Talks stall as Inova waits\n\nNo deal yet.", "Inova")  # not the first word


def test_a_title_case_titles_name_is_confirmed_by_whole_words_only() -> None:
    title = "Trump FCC Asks South Whether The View Is News"
    text = "Viewers wrote in. The FCC said Southern regulators agreed."
    mentions = [(Mention("View", "ORG"), True), (Mention("FCC", "ORG"), True),
                (Mention("South", "LOC"), True)]
    kept = confirmed_mentions(mentions, title, text)
    assert [m.text for m in kept] == ["FCC"]


# --- events, schemes, lotteries, journals ---

def test_schemes_programmes_lotteries_shows_and_cups_are_no_organisations() -> None:
    result = canonical_entities([Mention(name, "ORG") for name in (
        "Vibrant Villages Programme", "Pradhan Mantri Awas Yojana", "Consumer Electronics Show",
        "EuroMillions", "AFCON", "Copa Sudamericana", "National Lottery", "Journal of Neuroscience Methods",
        "Reuters")])
    assert result.organizations == ("Reuters",)


def test_the_uns_programmes_and_ngos_named_initiative_stay() -> None:
    result = canonical_entities([Mention(name, "ORG") for name in (
        "World Food Programme", "UNDP", "United Nations Environment Programme",
        "Clinton Health Access Initiative", "Amnesty International", "Wall Street Journal")])
    assert result.organizations == (
        "World Food Programme", "United Nations Development Programme",
        "United Nations Environment Programme", "Clinton Health Access Initiative",
        "Amnesty International", "The Wall Street Journal")


def test_a_city_and_international_in_a_sports_story_is_a_tournament() -> None:
    sport = [Mention(name, label, in_sport_story=True) for name, label in (
        ("Brisbane International", "ORG"), ("Brisbane International", "GPE"),
        ("Amnesty International", "ORG"), ("Colliers International", "ORG"))]
    assert canonical_entities(sport).organizations == ("Amnesty International", "Colliers International")
    assert canonical_entities(sport).locations == ()


def test_a_city_and_international_outside_sport_stays() -> None:
    result = canonical_entities([Mention("Brisbane International", "ORG")])
    assert result.organizations == ("Brisbane International",)


# --- works named after the noun of their kind ---

def test_a_name_after_the_noun_of_a_kind_of_work_is_a_work() -> None:
    assert work("the release of the Sussexes' biography Finding Freedom.", "Finding Freedom")
    assert work("published in the journal Physical Review Letters", "Physical Review Letters")
    assert work("hosts of the show Fox & Friends said", "Fox & Friends")
    assert work("the film The Lion King", "Lion King")


def test_an_organisation_after_other_nouns_or_in_quotes_stays() -> None:
    assert not work("a report by the Brookings Institution", "Brookings Institution")
    assert not work("Co-owner of 'Reinke Brothers' Greg Reinke", "Reinke Brothers")
    assert not work("the show's producer, Warner Bros. Television, said", "Warner Bros. Television")


# --- the real model ---

def test_headline_words_events_and_works_never_reach_the_facet(enricher: Any) -> None:
    article = _article(
        "https://news.example.com/perks", "Perks will stop if UK stays in EU, says Guy Verhofstadt",
        "Guy Verhofstadt told the European Parliament the perks would end. The Consumer Electronics Show "
        "opened in Las Vegas, and the biography Finding Freedom sold well, Reuters reported.", "News Example")
    [enriched] = enricher.enrich([article])
    assert "European Parliament" in enriched.organizations
    assert "Reuters" in enriched.organizations
    for wrong in ("Perks", "Consumer Electronics Show", "Finding Freedom"):
        assert wrong not in enriched.organizations, wrong
