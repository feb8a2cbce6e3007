"""Organisation precision (round 5): the wrong organisations of the training sets grouped by why they
are wrong, and the general rules for the biggest classes: outlets and services in credit, source and
podcast lines; a nationality cut from an institution's own name; people named by a plural job title;
portfolios before a job title; time zones after a clock time; identifiers with a serial number;
platforms before a possessed product noun.
Pure rules on text written here, then the real model."""

from __future__ import annotations

from typing import Any

from enrich.abbreviations import definitions
from enrich.canonical import (
    Mention,
    canonical_entities,
    default_rules,
    names_a_job_portfolio,
    names_a_time_zone,
    used_as_a_product,
)
from enrich.credits import read_credits
from tests.enrich.test_entity_spellings import _article


def _at(text: str, name: str) -> tuple[int, int]:
    start = text.index(name)
    return start, start + len(name)


def ents(*pairs: tuple[str, str]) -> list[Mention]:
    return [Mention(text, label) for text, label in pairs]


# --- credit, source and podcast lines (enrich/credits.py) ---

def test_a_source_tag_with_via_closing_a_paragraph_is_cut() -> None:
    text = ("A drone kit folds into a suitcase. [Jasper van Loenen via Creative Applications Network]\n\n"
            "Corning says so. [Technology Review via Phone Arena via Talk Android]")
    kept = read_credits(text).text
    assert "Creative Applications" not in kept and "Phone Arena" not in kept and "Talk Android" not in kept
    assert "A drone kit folds into a suitcase." in kept and "Corning says so." in kept


def test_brackets_inside_a_sentence_and_via_in_prose_stay() -> None:
    for text in ("He served at the Credit Department [Retail Finance] and the IT Department.",
                 "The files were sent via Signal to the BBC, he said. [Updated]"):
        assert read_credits(text).text == text


def test_picture_credits_written_out_and_credit_lines_are_cut() -> None:
    text = ("Rain fell on Madrid.\n\nPhotograph by Eduardo Briones, Europa Press, Getty Images\n\n"
            "Image by NASA/Creative Commons\n\nCredit:  Ars Technica via CMG Local Solutions\n\n"
            "Picture courtesy of Acme Corp")
    assert read_credits(text).text.strip() == "Rain fell on Madrid."


def test_sentences_that_open_with_picture_words_stay() -> None:
    for text in ("Image quality matters, Sony said.", "Photographs by the dozen were sold.",
                 "Credit card debt rose at Barclays."):
        assert read_credits(text).text == text


def test_podcast_links_and_the_list_a_boilerplate_line_opens_are_cut() -> None:
    text = ("The BBC reported the confession.\n\n"
            "You can subscribe to The Week Unwrapped wherever you get your podcasts:\n\n"
            "Spotify\n\nApple Podcasts\n\nGlobal Player\n\nThe Kremlin denied it.\n\n"
            "Listen to the weekly podcast on Apple Podcasts, Spotify, or YouTube. Become a subscriber.")
    kept = read_credits(text).text
    assert "Spotify" not in kept and "Apple" not in kept and "Global Player" not in kept
    assert "The BBC reported the confession." in kept and "The Kremlin denied it." in kept


def test_a_list_ends_at_the_first_line_that_is_a_sentence() -> None:
    text = "Related:\n\nFloods in Spain\n\nThe Spanish government sent the army to Valencia on Monday."
    kept = read_credits(text).text
    assert "Floods in Spain" not in kept
    assert "The Spanish government sent the army to Valencia on Monday." in kept


def test_read_more_links_of_other_languages_and_related_lines_are_cut() -> None:
    text = ("The hospital did four transplants.\n\nSeguir leyendo\n\nLire la suite\n\n"
            "Related: The Guardian view on energy policy | Editorial")
    assert read_credits(text).text.strip() == "The hospital did four transplants."


def test_an_outlets_promotion_of_itself_is_cut() -> None:
    text = ("Two community cases remain unlinked. See how today's Covid-19 developments unfolded with "
            "RNZ's live blog.\n\nBecome a Guardian supporter or make a contribution\n\nThe FBI was blamed.")
    kept = read_credits(text).text
    assert "RNZ" not in kept and "Guardian" not in kept
    assert "Two community cases remain unlinked." in kept and "The FBI was blamed." in kept


def test_a_blog_the_story_reports_on_stays() -> None:
    for text in ("The minister wrote on his blog that RNZ was wrong.", "Police said a live blog was hacked.",
                 "Members of the Senate became supporters of the bill."):
        assert read_credits(text).text == text


# --- a nationality that opens an institution's name (enrich/canonical.py clean_mention) ---

def test_a_nationality_opening_an_institutions_name_is_part_of_it() -> None:
    result = canonical_entities(ents(("the American Enterprise Institute", "ORG"),
                                     ("African Development Bank Group", "ORG"),
                                     ("Indian Institute of Banking and Finance", "ORG"),
                                     ("Saudi Press Agency", "ORG")))
    assert result.organizations == ("American Enterprise Institute", "African Development Bank Group",
                                    "Indian Institute of Banking and Finance", "Saudi Press Agency")


def test_a_descriptive_nationality_and_a_countrys_name_are_still_cut() -> None:
    result = canonical_entities(ents(("the Chinese Red Guard", "ORG"),
                                     ("U.S. Food and Drug Administration", "ORG")))
    assert result.organizations == ("Red Guard", "Food and Drug Administration")


def test_people_named_by_a_plural_job_title_are_no_organisation() -> None:
    result = canonical_entities(ents(("General Managers", "ORG"), ("Departmental Heads", "ORG"),
                                     ("the Regional Heads of Karnataka Bank", "ORG"),
                                     ("Karnataka Bank", "ORG")))
    assert result.organizations == ("Karnataka Bank",)


def test_bodies_named_after_their_members_stay() -> None:
    result = canonical_entities(ents(("Board of Directors", "ORG"),
                                     ("Association of Chief Police Officers", "ORG"),
                                     ("National Association of Realtors Managers Council", "ORG"),
                                     ("Kansas City Chiefs", "ORG")))
    assert result.organizations == ("Board of Directors", "Association of Chief Police Officers",
                                    "National Association of Realtors Managers Council", "Kansas City Chiefs")


def test_a_department_written_short_is_the_department() -> None:
    result = canonical_entities(ents(("the U.S. Labor Dept.", "ORG"), ("Acme Dept of Tests", "ORG"),
                                     ("Deptford Council", "ORG")))
    assert result.organizations == ("Department of Labor", "Acme Department of Tests", "Deptford Council")


def test_scotus_is_the_supreme_court() -> None:
    result = canonical_entities(ents(("SCOTUS", "ORG"), ("the Supreme Court", "ORG")))
    assert result.organizations == ("Supreme Court",)


def test_religious_community_adjectives_are_no_entity() -> None:
    result = canonical_entities(ents(("Alawite", "ORG"), ("Druze", "NORP"), ("Quaker", "ORG"),
                                     ("Papal", "ORG"), ("Quaker Oats", "ORG")))
    assert result.organizations == ("Quaker Oats",) and not result.locations and not result.persons


def test_a_translated_names_short_form_keeps_the_original_order() -> None:
    text = ("Families gathered at a post of the Bolivarian National Police (PNB) in Caracas. The PNB "
            "said nothing. The National Security Council (NSC) met.")
    assert definitions(text) == {"PNB": "Bolivarian National Police", "NSC": "National Security Council"}


def test_initials_that_are_not_a_permutation_define_nothing() -> None:
    for text in ("Argentina's General Confederation of Labor (CGT) called a strike.",
                 "Shares of Acme and Beta Labs (ABX) rose.", "The Prime Minister (MP) spoke."):
        assert definitions(text) == {}, text


# --- portfolios, time zones, identifiers, platforms (enrich/canonical.py) ---

def test_a_portfolio_before_a_job_title_and_its_holder_is_not_an_organisation() -> None:
    rules = default_rules()
    for text, name in (("Transportation Secretary Pete Buttigieg took leave.", "Transportation"),
                       ("China attacked Home Affairs Minister Peter Dutton.", "Home Affairs")):
        assert names_a_job_portfolio(text, *_at(text, name), "ORG", rules)


def test_organisations_before_a_job_title_stay() -> None:
    rules = default_rules()
    for text, name in (("NATO Secretary General Mark Rutte spoke.", "NATO"),
                       ("Foreign Office Minister Alan Duncan spoke.", "Foreign Office"),
                       ("Acme Secretary-General Jane Roe spoke.", "Acme"),
                       ("The Transportation Department said so.", "Transportation")):
        assert not names_a_job_portfolio(text, *_at(text, name), "ORG", rules)
    text = "Home Affairs Minister Peter Dutton"
    assert not names_a_job_portfolio(text, *_at(text, "Home Affairs"), "PERSON", rules)


def test_a_time_zone_after_a_clock_time_is_not_an_entity() -> None:
    for text, zone in (("Views start at 7 p.m. ET (2300 GMT).", "GMT"), ("Views start at 7 p.m. ET.", "ET"),
                       ("It was back by 3:30pm GMT.", "GMT"), ("8.12pm GMT", "GMT"),
                       ("at 10 am IST on Monday", "IST")):
        assert names_a_time_zone(text, *_at(text, zone)), text


def test_abbreviations_after_numbers_that_are_no_clock_times_stay() -> None:
    for text, name in (("In 2019 EU leaders met.", "EU"), ("About 300 NHS staff left.", "NHS"),
                       ("The Investments and Securities Tribunal (IST) met.", "IST")):
        assert not names_a_time_zone(text, *_at(text, name))


def test_an_identifier_with_a_serial_number_is_not_a_name() -> None:
    result = canonical_entities(ents(("CVE-2025-9491", "ORG"), ("ZDI-CAN-25373", "ORG"),
                                     ("COVID-19 Task Force", "ORG"), ("Boeing", "ORG")))
    assert result.organizations == ("COVID-19 Task Force", "Boeing")


def test_a_platform_before_a_possessed_product_noun_is_the_product() -> None:
    rules = default_rules()
    text = "But one Reddit user's experience spread. The YouTube video's About section says no."
    assert used_as_a_product(text, *_at(text, "Reddit"), rules)
    assert used_as_a_product(text, *_at(text, "YouTube"), rules)
    text = "Reddit's rules changed."
    assert not used_as_a_product(text, *_at(text, "Reddit"), rules)


# --- the real model ---

def test_wrong_organisations_of_these_classes_never_reach_the_facet(enricher: Any) -> None:
    article = _article(
        "https://gadgets.example.com/drone", "A drone in a suitcase",
        "Transportation Secretary Pete Buttigieg praised the kit on Monday, and Kori Schake of the "
        "American Enterprise Institute said it would sell. The shop opened at 9:30am GMT.\n\n"
        "[Jasper van Loenen via Creative Applications Network]\n\n"
        "Photograph by Eduardo Briones, Europa Press, Getty Images", "Gadgets Example")
    [enriched] = enricher.enrich([article])
    assert "American Enterprise Institute" in enriched.organizations
    for wrong in ("Transportation", "Enterprise Institute", "GMT", "Creative Applications Network",
                  "Europa Press"):
        assert wrong not in enriched.organizations, wrong
