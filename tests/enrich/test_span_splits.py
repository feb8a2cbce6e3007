"""Spans the model ran together, split back into the entities they hold (enrich/span_splits.py), and
the names glued to a headline word or a reporting period; no model."""

from __future__ import annotations

from enrich.canonical import EntityRules, Mention, canonical_entities, default_rules
from enrich.span_splits import split_joined

# A table of its own, so each case shows what the table must know for a split.
RULES = EntityRules.from_mapping({
    "entities": {
        "organizations": {"Facebook": [], "Google": [], "Cisco": [], "Procter & Gamble": [],
                          "Supreme Court": [], "Johnson & Johnson": [], "Fox": []},
        "locations": {"United Kingdom": ["Britain"], "United States": ["US"], "China": [],
                      "Washington, D.C.": ["Washington"], "Geneva": [], "Dubai": [],
                      "Bosnia and Herzegovina": [], "Bosnia": [], "Herzegovina": []},
        "persons": {"Boris Johnson": [], "Donald Trump": ["Trump"]},
    },
    "leading_words": ["the"],
    "headline_lead_words": ["Will", "Can", "How", "Is"],
    "wire_agencies": ["AFP", "Reuters"],
})


def texts(text: str, label: str, rules: EntityRules = RULES) -> list[tuple[str, str]]:
    return [(m.text, m.label) for m in split_joined(Mention(text, label), rules)]


def test_a_coordination_of_known_entities_is_split() -> None:
    assert texts("Facebook and Google", "ORG") == [("Facebook", "ORG"), ("Google", "ORG")]
    assert texts("Facebook & Google", "ORG") == [("Facebook", "ORG"), ("Google", "ORG")]
    assert texts("the US and China", "GPE") == [("the US", "GPE"), ("China", "GPE")]
    result = canonical_entities([Mention("Facebook and Google", "ORG")], RULES)
    assert result.organizations == ("Facebook", "Google")


def test_a_coordination_stays_whole_unless_the_table_knows_every_part() -> None:
    # (The table knows "Bosnia", "Herzegovina" and "Fox" too: the whole name wins.)
    for name in ("Procter & Gamble", "Marks and Spencer", "Fox & Friends", "Johnson & Johnson",
                 "Bosnia and Herzegovina", "Facebook and Friends"):
        assert texts(name, "ORG") == [(name, "ORG")], name


def test_the_shipped_table_keeps_company_and_show_names_whole() -> None:
    for name in ("Procter & Gamble", "Marks and Spencer", "Fox & Friends", "Johnson & Johnson"):
        assert texts(name, "ORG", default_rules()) == [(name, "ORG")], name


def test_a_slash_between_capitalised_words_or_known_names_is_split() -> None:
    assert texts("IronPort/Cisco", "ORG") == [("IronPort", "ORG"), ("Cisco", "ORG")]
    # The table's label wins over the span's: the model labelled the run, not each place.
    assert texts("Washington/Geneva/Dubai", "ORG") == [
        ("Washington", "GPE"), ("Geneva", "GPE"), ("Dubai", "GPE")]
    assert texts("WASHINGTON/GENEVA", "ORG") == [("WASHINGTON", "GPE"), ("GENEVA", "GPE")]


def test_short_slashed_names_and_credits_stay_whole() -> None:
    for name in ("AC/DC", "TCP/IP", "Jane Doe/AFP", "AFP/Getty", "Reuters/Shutterstock", "and/or"):
        assert texts(name, "ORG") == [(name, "ORG")], name


def test_a_possessor_before_a_person_is_a_mention_of_its_own() -> None:
    assert texts("Raiders' Connor Cook", "PERSON") == [("Raiders", "ORG"), ("Connor Cook", "PERSON")]
    assert texts("Britain's Boris Johnson", "PERSON") == [("Britain", "GPE"), ("Boris Johnson", "PERSON")]
    assert texts("Britain's Johnson", "PERSON") == [("Britain", "GPE"), ("Johnson", "PERSON")]
    result = canonical_entities([Mention("Britain’s Boris Johnson", "PERSON")], RULES)
    assert (result.persons, result.locations) == (("Boris Johnson",), ("United Kingdom",))


def test_a_possessive_inside_a_persons_span_stays_when_it_is_no_possessor() -> None:
    assert texts("Acme's Jones", "PERSON") == [("Acme's Jones", "PERSON")]  # one word, possessor unknown
    assert texts("Trump's Mike", "PERSON") == [("Trump's Mike", "PERSON")]  # a person's, not a person


def test_a_known_possessor_before_an_organisation_is_a_mention_of_its_own() -> None:
    assert texts("China's Foreign Ministry", "ORG") == [("China", "GPE"), ("Foreign Ministry", "ORG")]
    assert texts("Moody's Investors Service", "ORG") == [("Moody's Investors Service", "ORG")]


def test_a_headline_word_before_a_name_is_not_part_of_it() -> None:
    assert texts("Will Supreme Court", "ORG") == [("Supreme Court", "ORG")]
    assert texts("How Acme", "ORG") == [("Acme", "ORG")]
    assert texts("Will Donald Trump", "PERSON") == [("Donald Trump", "PERSON")]
    assert texts("Will Smith", "PERSON") == [("Will Smith", "PERSON")]  # a person's first name


def test_a_reporting_period_after_a_company_is_the_company() -> None:
    for span in ("ViacomCBS Q1", "ViacomCBS Q4 2021", "ViacomCBS H1", "ViacomCBS FY2025", "ViacomCBS FY25"):
        assert texts(span, "ORG") == [("ViacomCBS", "ORG")], span
    assert texts("Acme Q7", "ORG") == [("Acme Q7", "ORG")]


def test_a_short_form_cut_inside_its_bracketed_expansion_is_the_expansion() -> None:
    span = "MOA (Microlensing Observations in Astrophysics"
    assert texts(span, "ORG") == [("Microlensing Observations in Astrophysics", "ORG")]
    text = "The MOA (Microlensing Observations in Astrophysics) team saw it. MOA said more."
    result = canonical_entities([Mention(span, "ORG"), Mention("MOA", "ORG")], RULES, text=text)
    assert result.organizations == ("Microlensing Observations in Astrophysics",)
    assert "MOA" in result.organizations_alias


def test_the_long_form_first_still_ends_before_its_bracket() -> None:
    result = canonical_entities([Mention("Department of Health (DOH", "ORG")], RULES)
    assert result.organizations == ("Department of Health",)
