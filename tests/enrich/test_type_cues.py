"""Context cues that type a name the model mislabels (enrich/type_cues.py, canonical._retyped): a
kind of organisation before it or heading an apposition after it, an age or a person's role, a
region after a comma, a sports story's unknown "place"; and the cases that must not change."""

from __future__ import annotations

from enrich.canonical import Entities, Mention, canonical_entities, default_rules
from enrich.type_cues import before_a_region, org_kind_before_or_after, person_cue
from tests.enrich.canonicalizer import canonicalized


def _entities(text: str, *spans: tuple[str, str], first_only: bool = False) -> Entities:
    return canonicalized(text, *spans, placement="first" if first_only else "every")


def _kinds() -> frozenset[str]:
    return default_rules().org_kind_nouns


def test_a_kind_of_organisation_right_before_a_name_makes_it_an_organisation() -> None:
    for text in ("the Danish shipbuilder Norvant won", "prediction site Norvant said",
                 "a startup called Norvant announced", "signed from League of Ireland club Norvant"):
        start = text.index("Norvant")
        assert org_kind_before_or_after(text, start, start + 7, _kinds()), text


def test_an_apposition_headed_by_a_kind_of_organisation_makes_the_name_an_organisation() -> None:
    for text in ("Norvant, a Swedish IT firm that contracts with", "Norvant, a website that tracks",
                 "Norvant, a high-profile San Francisco start-up specializing in",
                 "Norvant, Google’s autonomous vehicle company, and"):
        assert org_kind_before_or_after(text, 0, 7, _kinds()), text


def test_a_kind_of_organisation_that_only_modifies_another_noun_is_no_cue() -> None:
    # "a company spokesman", "a firm believer": the name is a person's.
    for text in ("Norvant, a company spokesman, said", "Norvant, a firm believer in markets",
                 "Norvant, a member of the club", "Norvant said the company would"):
        assert not org_kind_before_or_after(text, 0, 7, _kinds()), text


def test_a_one_word_company_tagged_a_person_is_an_organisation_in_all_its_mentions() -> None:
    # The headline's mention has no cue; the text's does, and it holds for the name everywhere.
    result = _entities("Norvant courts new users\n\nPrediction site Norvant is hiring. Norvant declined.",
                       ("Norvant", "PERSON"))
    assert result.organizations == ("Norvant",) and result.persons == ()


def test_a_person_tagged_an_organisation_with_an_age_or_a_role_is_a_person() -> None:
    roles = default_rules().person_role_nouns
    assert person_cue("Instagram model Duvessa Qarn filmed", 16, 28, roles)
    assert person_cue("Duvessa Qarn, 22, filmed", 0, 12, roles)
    assert not person_cue("Duvessa Qarn said on Monday", 0, 12, roles)
    result = _entities("Title\n\nThe talent show star Duvessa Qarn died at 49.", ("Duvessa Qarn", "ORG"))
    assert result.persons == ("Duvessa Qarn",) and result.organizations == ()


def test_an_organisation_with_a_role_before_it_stays_an_organisation_in_capitals_or_known() -> None:
    result = _entities("Title\n\nThe reporter NBC sent said so.", ("NBC", "ORG"))
    assert result.organizations == ("NBC",) and result.persons == ()


def test_a_name_followed_by_a_state_or_country_after_a_comma_is_a_place() -> None:
    table = default_rules().table
    assert before_a_region("a centre in Quillby, Texas. It", 19, table)
    assert before_a_region("reports from Quillby, Thailand", 20, table)
    # A possessive or a list going on is no town with its region.
    assert not before_a_region("Quillby, China's biggest lender", 7, table)
    assert not before_a_region("Quillby, China and Russia", 7, table)
    assert not before_a_region("Quillby, Oxford and Leeds", 7, table)  # no region: towns
    result = _entities("The Quillby detention centre\n\nChildren held in Quillby, Texas, spoke.",
                       ("Quillby", "ORG"))
    assert result.locations == ("Quillby",) and result.organizations == ()


def test_a_lone_unknown_place_in_a_sports_story_is_a_players_surname() -> None:
    text = ("Transfer deadline day\n\nThe striker Vordanu joins the club after the season; fans saw the "
            "match, the league and the cup. Vordanu scored.")
    result = _entities(text, ("Vordanu", "GPE"))
    assert result.persons == ("Vordanu",) and result.locations == ()


def test_known_places_and_stories_outside_sport_keep_their_places() -> None:
    sport = ("Match report\n\nThe striker scored in the league match; fans of the club saw the cup win "
             "in London.")
    assert _entities(sport, ("London", "GPE")).locations == ("London",)
    assert _entities("Title\n\nFlooding hit Quillby on Monday.", ("Quillby", "GPE")).locations == ("Quillby",)


def test_the_table_decides_before_any_cue() -> None:
    # A country or curated entry overrides the label, cue or not.
    result = canonical_entities([Mention("France", "GPE", org_cue=True)])
    assert result.locations == ("France",)


def test_a_cue_at_an_untagged_occurrence_of_the_name_counts() -> None:
    # The model tagged the headline's "Norvant" a person and missed the one the apposition types.
    result = _entities("Norvant Is Hiring Drivers\n\nNorvant, Google’s self-driving car company, said so.",
                       ("Norvant", "PERSON"), first_only=True)
    assert result.organizations == ("Norvant",) and result.persons == ()


def test_an_initial_does_not_keep_a_person_with_an_age_an_organisation() -> None:
    result = _entities("Title\n\nInstagram model Duvessa Q, 22, filmed it.", ("Duvessa Q", "ORG"))
    assert result.persons == ("Duvessa Q",)


def test_an_unknown_name_tagged_a_place_ending_in_an_organisations_word_is_an_organisation() -> None:
    result = canonical_entities([Mention("Kelvale United", "GPE"), Mention("Norland Red Cross", "GPE"),
                                 Mention("Jive Club", "LOC")])
    assert result.organizations == ("Kelvale United", "Norland Red Cross", "Jive Club")
    # Not a city's own word, a facility's or a known place's.
    result = canonical_entities([Mention("Quillby City", "GPE"), Mention("Quillby Center", "GPE"),
                                 Mention("Vatican City", "GPE")])
    assert "Quillby City" in result.locations and result.organizations == ()


def test_a_lone_unknown_word_tagged_a_person_after_a_place_preposition_is_a_place() -> None:
    result = canonical_entities([Mention("Quillby", "PERSON", after_place_word=True)])
    assert result.locations == ("Quillby",) and result.persons == ()
    # A full name after "in" or "at" stays the person ("a stake in Jane Doe's firm", "at Ed Norvant's").
    result = canonical_entities([Mention("Jane Quillby", "PERSON", after_place_word=True)])
    assert result.persons == ("Jane Quillby",)


def test_what_only_an_organisation_has_right_after_the_name_makes_it_one() -> None:
    for text in ("the centre-right Norvant party", "Norvant’s CEO said", "Norvant chief executive Jo Bloggs",
                 "Norvant shares fell", "Norvant — the parent company of Acme — said"):
        start = text.index("Norvant")
        assert org_kind_before_or_after(text, start, start + 7, _kinds()), text
    # A person's party, spokesman or staff says nothing of the name.
    for text in ("Norvant's party won", "Norvant spokesman said", "Norvant’s staff left"):
        assert not org_kind_before_or_after(text, 0, 7, _kinds()), text
