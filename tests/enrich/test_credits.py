"""Credit lines: the originating outlet and the distributor, cut from the text NER sees."""

from __future__ import annotations

from typing import Any

from enrich.credits import read_credits
from tests.enrich.test_entity_spellings import _article

SYNDICATED_TAIL = "\n\n© 2023 Bloomberg L.P\nDistributed by Tribune Content Agency, LLC."


def test_a_copyright_line_names_the_outlet_and_a_distribution_line_the_agency() -> None:
    lines = read_credits("Rates rise\n\nThe central bank raised rates." + SYNDICATED_TAIL)
    assert (lines.credit, lines.distributor) == (("Bloomberg",), ("Tribune Content Agency",))
    assert "Bloomberg" not in lines.text and "LLC" not in lines.text
    assert lines.text.startswith("Rates rise\n\nThe central bank raised rates.")


def test_wire_datelines_and_staff_credits() -> None:
    lines = read_credits("Oil falls\n\nLONDON, Nov 30 (Reuters) - Oil fell on Tuesday.\n\n"
                         "[Reporting by Asif Shahzad; Editing by Tom Brown]")
    assert lines.credit == ("Reuters",)
    assert "Reuters" not in lines.text and "Shahzad" not in lines.text
    assert "Oil fell on Tuesday." in lines.text


def test_copyright_notices_are_normalised_to_the_outlet() -> None:
    cases = {
        "© 2019 Associated Press. All Rights Reserved. This material may not be published":
            "Associated Press",
        "Copyright 2024 The New York Times Company": "The New York Times",
        "(c) 2022 Thomson Reuters": "Reuters",
        "© Reuters": "Reuters",
    }
    for line, outlet in cases.items():
        assert read_credits(f"Body.\n\n{line}").credit == (outlet,), line


def test_boilerplate_lines_are_cut_without_a_credit() -> None:
    text = ("Body text.\n\nSign up for our daily newsletter here.\nRead more at Bloomberg.com\n"
            "Published in the print edition of the March 11 issue.\nPhoto: Jane Doe/Getty Images")
    lines = read_credits(text)
    assert (lines.credit, lines.distributor) == ((), ())
    assert lines.text.strip() == "Body text."


def test_ordinary_sentences_are_not_credit_lines() -> None:
    for text in ("The law was changed by Congress in 2019.", "Section 3(c) Congress passed it.",
                 "Apple (AAPL) said by Friday it would report.", "Copyright law is old.",
                 "ChloÃ© Verlhac publie un recueil."):  # "Ã©": a mis-decoded "é", not a copyright
        lines = read_credits(text)
        assert (lines.credit, lines.distributor, lines.text) == ((), (), text)


def test_credit_lines_never_become_entities_with_the_real_model(enricher: Any) -> None:
    article = _article("https://daily.example.com/rates", "Central bank raises rates",
                       "The European Central Bank raised rates on Thursday, Christine Lagarde said in "
                       "Frankfurt." + SYNDICATED_TAIL, "Daily Example")
    [enriched] = enricher.enrich([article])
    assert (enriched.credit, enriched.distributor) == (("Bloomberg",), ("Tribune Content Agency",))
    facets = enriched.persons + enriched.organizations + enriched.locations
    assert not [name for name in facets if "Bloomberg" in name or "LLC" in name or "Tribune" in name]
    assert "European Central Bank" in enriched.organizations


def test_a_syndicated_storys_copies_are_faceted_by_credit_and_distributor(
    settings: Any, es_client: Any, enricher: Any
) -> None:
    from newsflow.index.search import search_articles
    from newsflow.index.store import ArticleStore

    body = ("Oil prices rose on Monday after OPEC+ agreed to extend output cuts, traders in Singapore said."
            + SYNDICATED_TAIL)
    copies = [_article(f"https://{outlet}.example.com/oil", "Oil rises after OPEC+ extends cuts", body,
                       outlet) for outlet in ("herald", "courier")]
    store = ArticleStore(es_client, settings)
    store.write(enricher.enrich(copies))
    store.refresh()

    result = search_articles(es_client, settings, "credit:Bloomberg")
    assert result.total == 2
    assert [(f.value, f.count) for f in result.facets["credit"]] == [("Bloomberg", 2)]
    assert [(f.value, f.count) for f in result.facets["distributor"]] == [("Tribune Content Agency", 2)]
    assert {f.value for f in result.facets["source"]} == {"herald", "courier"}
