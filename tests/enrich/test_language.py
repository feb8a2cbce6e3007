"""Language identification (py3langid, bundled model)."""

from __future__ import annotations

from enrich.language import detect_language

ENGLISH = "The prime minister said on Tuesday that the general election would be held in May next year."
FRENCH = "Le président de la République a annoncé mardi une nouvelle réforme des retraites très contestée."
GERMAN = "Die Bundesregierung hat am Dienstag beschlossen, die Steuern für kleine Unternehmen zu senken."


def test_the_text_decides_the_language() -> None:
    assert detect_language(ENGLISH) == "en"
    assert detect_language(FRENCH) == "fr"
    assert detect_language(GERMAN) == "de"


def test_the_text_wins_over_what_the_feed_declares() -> None:
    assert detect_language(FRENCH, declared="en-US") == "fr"


def test_a_text_too_short_to_tell_keeps_the_declared_language_as_iso_639_1() -> None:
    assert detect_language("Putin", declared="de-DE") == "de"
    assert detect_language("Live", declared="EN") == "en"


def test_a_short_text_without_a_declaration_is_told_among_common_news_languages() -> None:
    assert detect_language("Trump pays tribute") == "en"
    assert detect_language("Merkel trifft Macron") == "de"


def test_no_letters_no_language() -> None:
    assert detect_language("") == ""
    assert detect_language("2024 — 12:30") == ""
