"""Abbreviations a text defines resolve to the entity they abbreviate (enrich/abbreviations.py).

The rules, on the canonicaliser alone (no model): the mentions are given as the model would tag
them, with the article's text.
"""

from __future__ import annotations

import pytest

from enrich.abbreviations import definitions
from enrich.canonical import Mention, canonical_entities


def ents(*pairs: tuple[str, str]) -> list[Mention]:
    return [Mention(text, label) for text, label in pairs]


def test_a_short_form_defined_after_its_long_form_is_the_long_forms_entity() -> None:
    text = ("The National Security Council (NSC) met on Monday. An NSC spokesman said the NSC "
            "would publish its review.")
    result = canonical_entities(
        ents(("The National Security Council", "ORG"), ("NSC", "ORG"), ("NSC", "ORG")), text=text)
    assert result.organizations == ("National Security Council",)
    # The article's short form is still a spelling a query finds the entity by.
    assert set(result.organizations_alias) == {"National Security Council", "NSC"}


def test_a_short_form_before_its_long_form_in_brackets_is_the_same_entity() -> None:
    text = "The NSC (National Security Council) met. Later the NSC said it had finished."
    result = canonical_entities(
        ents(("NSC", "ORG"), ("National Security Council", "ORG"), ("NSC", "ORG")), text=text)
    assert result.organizations == ("National Security Council",)


def test_the_long_form_counts_even_when_the_model_tagged_only_its_fragments() -> None:
    # The model cuts the name at "of" and tags the country on its own: the defined name is one
    # organisation, the country stays a place.
    text = ("Members of the National Fula Security of Liberia (NFSL) were arrested. The NFSL denied it. "
            "Liberia's police said so.")
    result = canonical_entities(
        ents(("National Fula Security", "ORG"), ("Liberia", "GPE"), ("NFSL", "ORG"), ("Liberia", "GPE")),
        text=text)
    assert result.organizations == ("National Fula Security of Liberia",)
    assert result.locations == ("Liberia",)


def test_a_short_form_the_text_never_defines_is_kept_as_written() -> None:
    text = "The NSC met on Monday."
    assert canonical_entities(ents(("NSC", "ORG"),), text=text).organizations == ("NSC",)


def test_a_short_form_spelled_out_by_its_initials_is_that_name() -> None:
    # No brackets, but the text spells the initials out once; an airport is a place.
    text = ("NAIA to resume international operations. The Ninoy Aquino International Airport "
            "Terminal 3 will reopen tomorrow.")
    result = canonical_entities(
        ents(("NAIA", "ORG"), ("The Ninoy Aquino International Airport Terminal 3", "ORG")), text=text)
    assert result.organizations == ()
    assert result.locations == ("Ninoy Aquino International Airport",)


def test_a_short_form_the_text_defines_as_a_law_is_no_organisation() -> None:
    text = "The Inflation Reduction Act (IRA) passed. Critics of the IRA said it costs too much."
    assert canonical_entities(ents(("IRA", "ORG"), ("IRA", "ORG")), text=text).organizations == ()


def test_the_entity_table_keeps_its_name_when_the_text_misspells_the_long_form() -> None:
    text = "Immigrations and Customs Enforcement (ICE) agents arrived. ICE declined to comment."
    result = canonical_entities(ents(("ICE", "ORG"), ("ICE", "ORG")), text=text)
    assert result.organizations == ("Immigration and Customs Enforcement",)


def test_an_article_defining_a_known_short_form_otherwise_means_its_own_entity() -> None:
    # The table's WHO is the World Health Organization; this article says what it means by WHO.
    text = "The Women's Rights Organisation (WHO) marched. WHO leaders spoke."
    result = canonical_entities(ents(("WHO", "ORG"), ("WHO", "ORG")), text=text)
    assert result.organizations == ("Women's Rights Organisation",)


@pytest.mark.parametrize(("text", "expected"), [
    ("the World Health Organization (WHO) said", {"WHO": "World Health Organization"}),
    ("the Democratic Republic of Congo (DRC)", {"DRC": "Democratic Republic of Congo"}),
    ("the United Nations (U.N.) said", {"U.N.": "United Nations"}),
    ("the rebel group M23 (March 23 Movement)", {"M23": "March 23 Movement"}),
    ("the Council on Foreign Relations (CFR)", {"CFR": "Council on Foreign Relations"}),
    # A lowercase description, a ticker, a party tag and a remark in brackets define nothing.
    ("a non-governmental organisation (NGO) said", {}),
    ("shares of Apple (AAPL) rose", {}),
    ("said Joe Biden (D-Del.)", {}),
    ("officials (who declined to be named) said", {}),
    # The long form stays within its sentence.
    ("He left the Senate. Security Council (SC) members met.", {"SC": "Security Council"}),
])
def test_definitions_follow_schwartz_and_hearst(text: str, expected: dict[str, str]) -> None:
    assert definitions(text) == expected


def test_the_first_definition_of_a_short_form_wins() -> None:
    text = "The National Security Council (NSC) met. The Nuclear Safety Commission (NSC) did not."
    assert definitions(text) == {"NSC": "National Security Council"}
