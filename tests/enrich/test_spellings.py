"""The spelling key and the cleaning of a query's value (enrich/spellings.py): pure, no model."""

from __future__ import annotations

import pytest

from enrich.spellings import cleaned_name, query_spellings, spelling_key, with_keys


@pytest.mark.parametrize(("spellings", "key"), [
    (["Erdoğan", "Erdogan", "ERDOGAN"], "erdogan"),
    (["São Paulo", "Sao Paulo", "Sao-Paulo", "sao  paulo", "Sao\u0303 Paulo"], "sao paulo"),
    (["Zürich", "Zurich"], "zurich"),
    (["Łukaszenka", "Lukaszenka"], "lukaszenka"),
    (["Al-Assad", "al Assad", "al–Assad", "AL ASSAD"], "al assad"),
    (["O’Rourke", "O'Rourke", "ORourke", "O‘Rourke"], "orourke"),
    (["U.S.", "US", "u.s.", "U.S"], "us"),
    (["J. K. Rowling", "J.K. Rowling", "JK Rowling"], "jk rowling"),
    (["Washington, D.C.", "Washington DC"], "washington dc"),
    (["Straße", "Strasse"], "strasse"),
])
def test_spellings_that_differ_only_in_writing_share_one_key(spellings: list[str], key: str) -> None:
    assert {spelling_key(s) for s in spellings} == {key}


def test_the_key_never_drops_a_word_so_different_names_keep_different_keys() -> None:
    assert len({spelling_key(s) for s in ("Bashar al-Assad", "Assad", "Hafez al-Assad")}) == 3
    assert spelling_key("George W. Bush") != spelling_key("George Bush")
    assert spelling_key("Zelenskyy") != spelling_key("Zelensky")  # a transliteration: the table's job


def test_documents_store_a_key_only_where_the_index_folding_does_not_reach() -> None:
    assert with_keys(["Bashar al-Assad", "Assad", "Erdoğan", "U.S.", "US"]) == [
        "Bashar al-Assad", "Assad", "Erdoğan", "U.S.", "US", "bashar al assad"]


def test_a_query_value_is_cleaned_as_the_enrichment_cleans_a_mention() -> None:
    assert cleaned_name("persons", "President Zelensky") == "Zelensky"
    assert cleaned_name("persons", "former President Vladimir Putin’s") == "Vladimir Putin"
    assert cleaned_name("persons", "Mr. Putin") == "Putin"
    assert cleaned_name("persons", "President") == "President"  # a word is always kept
    assert cleaned_name("organizations", "the Pentagon") == "Pentagon"
    assert cleaned_name("organizations", "Reuters'") == "Reuters"
    assert cleaned_name("organizations", "President Biden") == "President Biden"  # titles: persons only


def test_a_query_searches_its_value_the_cleaned_name_and_their_keys_once_each() -> None:
    assert query_spellings("persons", "Roe") == ["Roe"]
    assert query_spellings("persons", "Roe's") == ["Roe's", "Roe", "roes"]
    assert query_spellings("locations", "Yonderville") == ["Yonderville"]
    assert query_spellings("locations", "Yondèrville") == ["Yondèrville"]  # the index folds accents itself
    # An entity of the table: all its spellings (and keys the index folding would not reach).
    assert query_spellings("persons", "President Gaddafi")[:3] == ["President Gaddafi", "Gaddafi",
                                                                   "Muammar Gaddafi"]
    assert "Muammar al-Gaddafi" in query_spellings("persons", "Kadhafi")
