"""Organisation and person precision (issue 17, round 4): platforms used as products, portfolios in job
titles, possessors and line breaks inside spans, short forms of known organisations, people the model
tags as organisations. Pure rules on hand-written mentions, then the real model on text written here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import spacy
from spacy.tokens import Span

from enrich import components
from enrich.canonical import (
    Mention,
    canonical_entities,
    default_rules,
    names_a_credit,
    names_a_portfolio,
    names_a_release,
    used_as_a_product,
)
from enrich.credits import read_credits
from newsflow.core.models import Article, article_id_for


def _article(title: str, body: str) -> Article:
    url = "https://example.org/precision/" + title.lower().replace(" ", "-")
    return Article(id=article_id_for(url), url=url, title=title, summary="", body=body, source="Example",
                   feed_url="https://example.org/feed", published_at=datetime(2026, 12, 3, 9, tzinfo=UTC),
                   ingested_at=datetime(2026, 12, 3, 9, 5, tzinfo=UTC))


def ents(*pairs: tuple[str, str]) -> list[Mention]:
    return [Mention(text, label) for text, label in pairs]


def _at(text: str, name: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = text.index(name, start + 1)
    return start, start + len(name)


def test_a_platform_used_as_a_product_is_not_the_company_acting() -> None:
    rules = default_rules()
    text = ("He logged into TikTok to vent. Posts on Facebook and Facebook timelines spread it, "
            "via a channel (Twitter) and TikTok-born groups. Facebook's secrecy worries them; "
            "Twitter allows access.")
    used = [used_as_a_product(text, *_at(text, name, nth), rules) for name, nth in (
        ("TikTok", 0), ("Facebook", 0), ("Facebook", 1), ("Twitter", 0), ("TikTok", 1),
        ("Facebook", 2), ("Twitter", 1))]
    assert used == [True, True, True, True, True, False, False]
    # A company that is not a platform is never a product by context.
    assert not used_as_a_product("It was posted on Reuters.", 15, 22, rules)


def test_a_portfolio_after_minister_of_is_a_job_title_not_an_organisation() -> None:
    text = "Minister of State for Finance and Corporate Affairs spoke; the Ministry of Finance agreed."
    assert names_a_portfolio(text, text.index("State"), "ORG")
    assert not names_a_portfolio(text, text.index("Ministry"), "ORG")
    assert not names_a_portfolio(text, text.index("State"), "PERSON")


def test_a_known_possessor_before_an_organisation_is_its_own_mention() -> None:
    result = canonical_entities(ents(("Trump’s ‘Board of Peace’", "ORG"),
                                     ("Kellogg's Cereal Works", "ORG")))
    # "Kellogg" is no entry of the table: its possessive may be part of the name.
    assert result.organizations == ("Board of Peace", "Kellogg's Cereal Works")


def test_a_span_across_a_line_break_or_a_misdecoded_quote_keeps_the_name_only() -> None:
    result = canonical_entities(ents(("ROCKSTAR GAMES\n\nCompany", "ORG"), ("Huluâ€", "ORG")))
    assert result.organizations == ("Rockstar Games", "Hulu")


def test_a_first_word_of_a_known_organisation_is_that_organisation() -> None:
    result = canonical_entities(ents(("Fox", "ORG"), ("Fox News", "ORG"), ("House", "ORG"),
                                     ("White House", "ORG")))
    assert result.organizations == ("Fox News", "House", "White House")


def test_a_person_tagged_an_organisation_is_a_person_when_the_surname_is_used_alone() -> None:
    result = canonical_entities(ents(("Stormy Daniels", "ORG"), ("Stormy Daniels", "ORG"),
                                     ("Daniels", "PERSON"), ("Stormy Daniels", "PERSON"),
                                     ("Baker Botts", "ORG"), ("Baker Botts", "ORG"),
                                     ("Baker Botts", "PERSON")))
    assert result.persons == ("Stormy Daniels",)
    assert result.organizations == ("Baker Botts",)  # never called "Botts" alone: the law firm


def test_manifestos_and_protests_are_not_organisations() -> None:
    result = canonical_entities(ents(("Leap Manifesto", "ORG"), ("Capitol Hill Occupied Protest", "ORG")))
    assert result.organizations == ()


def test_channel_promotions_are_cut_before_ner() -> None:
    text = ("Title\n\nThe storm hit the coast.\n\n"
            "Get access to the latest news from TV Patrol on TFC Online if you're watching overseas.")
    assert "TFC Online" not in read_credits(text).text


def test_the_real_model_keeps_acting_platforms_and_drops_used_ones(enricher: Any) -> None:
    body = ("The minister shared the notice on Facebook, and within hours TikTok videos about it had "
            "spread. Meta's Facebook said on Tuesday it had removed the posts. Shri Ravi Kumar, Minister "
            "of State for Minority Affairs, told reporters the rumour was false.")
    [out] = enricher.enrich([_article("Rumour spreads online", body)])
    assert "Facebook" in out.organizations  # "Facebook said": the company acting
    assert "TikTok" not in out.organizations  # "TikTok videos": the product
    assert not any("Minority Affairs" in o for o in out.organizations)


def test_known_names_the_model_missed_or_cut_short_are_found_in_the_text() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v2", config={"match_known_names": True})
    doc = nlp.make_doc("Trump Tariffs Hit Toys\n\nTheresa May spoke on Powell Street , and President "
                       "Macron agreed with the White House .")
    doc.ents = [Span(doc, 5, 6, "PERSON")]  # "Theresa": the model stopped at the month
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    entities = doc._.get(components.ENTITIES_ATTR)
    # "Powell" of "Powell Street" is part of a longer name, not Jerome Powell.
    assert entities.persons == ("Donald Trump", "Theresa May", "Emmanuel Macron")
    assert entities.organizations == ("White House",)


def test_without_the_option_the_component_reads_the_models_entities_only() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v2")
    doc = nlp.make_doc("Title\n\nTheresa May spoke .")
    doc.ents = [Span(doc, 2, 3, "PERSON")]
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    assert doc._.get(components.ENTITIES_ATTR).persons == ("Theresa",)


def test_the_real_pipeline_finds_a_known_name_in_a_headline(enricher: Any) -> None:
    body = ("The House voted on Wednesday to end the duties on Canadian goods. Theresa May, the former "
            "British prime minister, called the vote a rare rebuke.")
    [out] = enricher.enrich([_article("House votes to slap back Trump's tariffs on Canada", body)])
    assert "Donald Trump" in out.persons and "Theresa May" in out.persons
    assert "Theresa" not in out.persons


def test_a_wire_agency_acting_is_an_organisation_but_not_in_a_credit_left_in_the_text() -> None:
    rules = default_rules()
    text = ("He told AFP he resigned. (AP) The Associated Press reported it. Jane Doe/AFP. "
            "A Reuters file photo, via Reuters.")
    credits = [names_a_credit(text, *_at(text, name, nth), rules) for name, nth in (
        ("AFP", 0), ("AP", 0), ("Associated Press", 0), ("AFP", 1), ("Reuters", 0), ("Reuters", 1))]
    assert credits == [False, True, False, True, True, True]
    result = canonical_entities(ents(("AFP", "ORG"), ("the Associated Press", "ORG"), ("AP", "ORG")))
    assert result.organizations == ("AFP", "Associated Press")


def test_people_and_organisations_that_recur_in_the_news_have_one_canonical_name() -> None:
    result = canonical_entities(ents(
        ("Min Aung Hlaing", "PERSON"), ("Epstein", "PERSON"), ("Kushner", "PERSON"),
        ("Jared Kushner", "PERSON"),
        ("M23", "GPE"), ("the Verge", "ORG"), ("DOGE", "ORG"), ("Scotland Yard", "GPE")))
    assert result.persons == ("Min Aung Hlaing", "Jeffrey Epstein", "Jared Kushner")
    assert result.organizations == ("M23", "The Verge", "Department of Government Efficiency",
                                    "Metropolitan Police")
    assert result.locations == ()


def test_a_known_organisation_in_a_title_case_headline_is_left_to_the_model() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("newsflow_entity_canonicalizer_v2", config={"match_known_names": True})
    doc = nlp.make_doc("Ten Home Office Tips\n\nWork from the kitchen table .")
    doc = nlp.get_pipe("newsflow_entity_canonicalizer_v2")(doc)
    assert doc._.get(components.ENTITIES_ATTR).organizations == ()


def test_facilities_the_model_calls_people_and_lakes_it_calls_facilities_are_places() -> None:
    result = canonical_entities(ents(("Hart Building", "PERSON"), ("Lake Berryessa", "FAC"),
                                     ("the Paranal Observatory", "FAC"), ("Charlotte Church", "PERSON")))
    assert result.locations == ("Hart Building", "Lake Berryessa", "Paranal Observatory")
    assert result.persons == ("Charlotte Church",)  # a church is also a surname


def test_the_short_form_of_a_product_the_article_names_in_full_is_not_an_entity() -> None:
    text = "Hulu plans to challenge Sling TV. Sling starts at $20, and Sling Murray said so."
    result = canonical_entities(ents(("Hulu", "ORG"), ("Sling", "PERSON")), text=text)
    assert result.organizations == ("Hulu",) and result.persons == ()
    alone = canonical_entities(ents(("Sling", "PERSON"),), text="Sling starts at $20.")
    assert alone.persons == ("Sling",)


def test_the_capitol_and_malacanang_are_the_table_entities() -> None:
    result = canonical_entities(ents(("Capitol", "ORG"), ("Malacañang", "GPE")))
    assert result.locations == ("U.S. Capitol",) and result.organizations == ("Malacañang",)


def test_podcast_sign_ups_are_cut_before_ner() -> None:
    text = ("Title\n\nPrices rose.\n\nFor sponsor-free episodes of Consider This, sign up for "
            "Consider This+ via Apple Podcasts.")
    assert "Apple" not in read_credits(text).text


def test_a_nationality_before_an_organisation_is_cut_like_a_country() -> None:
    result = canonical_entities(ents(("the Chinese Red Guard", "ORG"), ("British Airways", "ORG"),
                                     ("Chinese Communist Party", "ORG")))
    # Two words left at least; a name the table knows is its own.
    assert result.organizations == ("Red Guard", "British Airways", "Chinese Communist Party")


def test_a_title_or_list_run_together_with_a_comma_is_not_one_name() -> None:
    result = canonical_entities(ents(("Fly, Wild Swans", "ORG"), ("Acme Holdings, Inc.", "ORG"),
                                     ("Martin Luther King, Jr.", "PERSON"), ("Portland, Oregon", "GPE")))
    assert result.organizations == ("Acme Holdings, Inc.",)
    assert result.persons == ("Martin Luther King Jr.",) and result.locations == ("Portland, Oregon",)


def test_a_name_followed_by_a_version_number_is_a_release() -> None:
    rules = default_rules()
    text = ("Korora 19 is out with KDE Plasma Workspaces 4.11. Boeing 737 jets flew; Acme 30 percent up; "
            "Acme 2024 results.")
    released = [names_a_release(text, *_at(text, name), label, rules) for name, label in (
        ("Korora", "PERSON"), ("KDE Plasma Workspaces", "ORG"), ("Boeing", "ORG"), ("Acme", "ORG"))]
    assert released == [True, True, False, False]
    second = text.rindex("Acme")
    assert not names_a_release(text, second, second + 4, "ORG", rules)  # a year is no version


def test_a_given_name_and_a_surname_tagged_an_organisation_is_a_person() -> None:
    result = canonical_entities(ents(("Heath Ledger", "ORG"), ("Diego Rivera", "ORG"),
                                     ("Charles River Associates", "ORG"), ("Victoria Cross", "ORG"),
                                     ("John Lewis", "ORG"), ("Morgan Stanley", "ORG")))
    assert result.persons == ("Heath Ledger", "Diego Rivera")
    assert result.organizations == ("Charles River Associates", "Victoria Cross", "John Lewis",
                                     "Morgan Stanley")


def test_product_lines_generic_words_and_open_brackets() -> None:
    result = canonical_entities(ents(("Windows XP", "ORG"), ("Software", "ORG"), ("Supreme Leader", "ORG"),
                                     ("Department of Health (DOH", "ORG"), ("Xi's Evergrande", "ORG")))
    assert result.organizations == ("Department of Health", "Evergrande")


def test_person_spans_lose_job_titles_after_a_dash_and_local_titles_before() -> None:
    result = canonical_entities(ents(("Haidar Al Yousuf - Director", "PERSON"),
                                     ("Assemblymember Tasha Boerner", "PERSON"),
                                     ("Prince William County", "PERSON"), (".ByteDance", "PERSON"),
                                     ("Qwen", "PERSON"), ("Coroner", "PERSON")))
    assert result.persons == ("Haidar Al Yousuf", "Tasha Boerner")
    assert result.locations == ("Prince William County",)
    assert result.organizations == ("ByteDance",)


def test_handles_laws_papers_and_more_generic_words_are_not_organisations() -> None:
    result = canonical_entities(ents(("@realDonaldTrump", "ORG"),
                                     ("General Data Protection Regulation", "ORG"),
                                     ("Chemical Weapons Convention", "ORG"), ("White Paper", "ORG"),
                                     ("Women", "ORG"), ("Social Media", "ORG"), ("Justice Dept", "ORG"),
                                     ("Ebay", "ORG")))
    assert result.organizations == ("Justice Department", "eBay") and result.persons == ()
