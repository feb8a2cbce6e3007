"""Matching new articles against saved rules: one alert record per (rule, story), whatever the copies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from newsflow.alerts import AlertStore, RuleStore, alert_id_for, deliver_pending, match_articles
from newsflow.core.models import Article


def _syndicated_copies(make_article: Callable[..., Article]) -> list[Article]:
    """One wire story as two feeds carry it: different URLs and feeds, the same story_id."""
    return [
        make_article("https://wire.example.com/rates", feed_url="https://wire.example.com/feed.xml",
                     source="Wire", story_id="story-rates"),
        make_article("https://daily.example.org/business/rates-rise",
                     feed_url="https://daily.example.org/rss", source="Daily",
                     title="Central bank raises interest rates again", story_id="story-rates"),
    ]


def test_syndicated_copies_of_a_story_make_one_alert_per_rule(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    rules = RuleStore(es_client, settings)
    rules.add("rates", "interest AND rates", ["log:/tmp/rates.jsonl"])
    rules.add("bank", 'title:"central bank"', ["log:/tmp/bank.jsonl"])
    rules.add("football", "football", ["log:/tmp/football.jsonl"])

    result = match_articles(es_client, settings, _syndicated_copies(make_article))

    assert (result.matched, result.created, result.duplicates) == (4, 2, 2)
    records = AlertStore(es_client, settings).all()
    assert sorted((r.rule, r.story_id) for r in records) == [
        ("bank", "story-rates"), ("rates", "story-rates")]
    assert {r.id for r in records} == {
        alert_id_for("rates", "story-rates"), alert_id_for("bank", "story-rates")}
    # The copy that came first stands for the story.
    assert {r.article.source for r in records} == {"Wire"}
    assert all(r.status == "pending" for r in records)


def test_a_later_copy_or_a_rerun_never_records_the_story_again(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    RuleStore(es_client, settings).add("rates", "rates", ["log:/tmp/rates.jsonl"])
    first, second = _syndicated_copies(make_article)

    assert match_articles(es_client, settings, [first]).created == 1
    later_cycle = match_articles(es_client, settings, [second])
    rerun = match_articles(es_client, settings, [first, second])

    assert (later_cycle.created, later_cycle.duplicates) == (0, 1)
    assert (rerun.created, rerun.duplicates) == (0, 2)
    assert len(AlertStore(es_client, settings).all()) == 1


def test_an_article_without_a_story_is_a_story_of_its_own(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    RuleStore(es_client, settings).add("rates", "rates", ["log:/tmp/rates.jsonl"])
    lone = make_article("https://example.com/lone", story_id="")

    match_articles(es_client, settings, [lone])

    [record] = AlertStore(es_client, settings).all()
    assert record.story_id == lone.id


def test_articles_are_percolated_and_recorded_in_batches_and_every_match_is_found(
    make_settings: Callable[..., Any], es_client: Any, make_article: Callable[..., Article],
    tmp_path: Path,
) -> None:
    settings = make_settings(alerts={"percolate_batch_size": 2}, index={"bulk_chunk_size": 1})
    rules = RuleStore(es_client, settings)
    rules.add("merkel", 'persons:"Angela Merkel"', [f"log:{tmp_path / 'm.jsonl'}"])
    rules.add("berlin", "locations:Berlin", [f"log:{tmp_path / 'b.jsonl'}"])
    articles = [
        make_article(f"https://example.com/{n}", story_id=f"s{n}",
                     persons=("Angela Merkel",) if n % 2 == 0 else (),
                     locations=("Berlin",) if n < 3 else ("Paris",))
        for n in range(5)
    ]

    result = match_articles(es_client, settings, articles)

    # merkel: articles 0, 2, 4; berlin: articles 0, 1, 2
    assert (result.matched, result.created) == (6, 6)
    found = {(r.rule, r.story_id) for r in AlertStore(es_client, settings).all()}
    assert found == {("merkel", "s0"), ("merkel", "s2"), ("merkel", "s4"),
                     ("berlin", "s0"), ("berlin", "s1"), ("berlin", "s2")}
    assert deliver_pending(es_client, settings).sent == 6
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 3


def test_without_rules_nothing_is_matched_or_recorded(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    assert match_articles(es_client, settings, [make_article()]).matched == 0
    assert not AlertStore(es_client, settings).exists()


def test_matching_rules_are_paged_through_so_none_is_missed(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    from newsflow.alerts.engine import percolate

    rules = RuleStore(es_client, settings)
    for n in range(5):
        rules.add(f"rule-{n}", "rates", ["log:/tmp/r.jsonl"])
    articles = [make_article(f"https://example.com/{n}", story_id=f"s{n}") for n in range(2)]

    pairs = [(m.rule.name, m.article.id) for m in percolate(es_client, settings, articles, page_size=2)]

    assert sorted(pairs) == sorted((f"rule-{n}", a.id) for n in range(5) for a in articles)


def test_a_rule_can_name_a_language_copy_to_match_with_that_languages_stemmer(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    rules = RuleStore(es_client, settings)
    rules.add("horses-fr", "i18n.fr:cheval", ["log:/tmp/h.jsonl"])
    rules.add("horses", "cheval", ["log:/tmp/h.jsonl"])
    french = make_article("https://exemple.fr/courses", language="fr", story_id="fr1",
                          title="Les chevaux de course", summary="", body="Trois chevaux ont gagné.")

    match_articles(es_client, settings, [french])

    # French stemming makes "chevaux" match "cheval"; the default (English) analysis does not.
    assert [r.rule for r in AlertStore(es_client, settings).all()] == ["horses-fr"]


def test_unfielded_words_match_across_title_summary_and_body_but_a_phrase_stays_in_one_field(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    rules = RuleStore(es_client, settings)
    rules.add("both-words", "harbour AND strike", ["log:/tmp/w.jsonl"])
    rules.add("phrase", '"harbour strike"', ["log:/tmp/w.jsonl"])
    rules.add("title-only", "title:strike", ["log:/tmp/w.jsonl"])
    split = make_article("https://example.com/split", story_id="split", title="Dockers walk out",
                         summary="The harbour is closed.", body="A strike began on Monday.")
    joined = make_article("https://example.com/joined", story_id="joined", title="Harbour strike",
                          summary="", body="Ships wait outside.")

    match_articles(es_client, settings, [split, joined])

    alerted = sorted((r.rule, r.story_id) for r in AlertStore(es_client, settings).all())
    assert alerted == [("both-words", "joined"), ("both-words", "split"), ("phrase", "joined"),
                       ("title-only", "joined")]


def test_rules_saved_in_the_earlier_three_field_form_are_saved_again_and_still_match(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    from newsflow.alerts.rules import RULE_PROPERTIES, Rule
    from newsflow.core.models import utc_now
    from newsflow.index.mappings import ANALYSIS, ARTICLE_PROPERTIES

    rules = RuleStore(es_client, settings)
    # The rules index as an earlier version made it: no rule_text field, queries over three fields.
    es_client.indices.create(index=rules.index, settings={"analysis": ANALYSIS}, mappings={
        "dynamic": "strict", "properties": {**ARTICLE_PROPERTIES, **RULE_PROPERTIES}})
    old = Rule("rates", "interest AND rates", ("log:/tmp/r.jsonl",), utc_now()).to_source()
    old["query"]["query_string"]["fields"] = ["title", "summary", "body"]
    es_client.index(index=rules.index, id="rates", document=old, refresh=True)

    rules.ensure()
    rules.ensure()  # the second time there is nothing to save again

    stored = es_client.get(index=rules.index, id="rates")["_source"]["query"]["query_string"]
    assert stored["fields"] == ["rule_text"]
    assert es_client.get(index=rules.index, id="rates")["_version"] == 2
    match_articles(es_client, settings, [make_article()])
    assert [r.rule for r in AlertStore(es_client, settings).all()] == ["rates"]


def test_a_rule_saved_again_under_its_name_matches_with_its_new_query_and_channels(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    rules = RuleStore(es_client, settings)
    rules.add("watch", "interest", ["log:/tmp/first.jsonl"])
    match_articles(es_client, settings, [make_article("https://example.com/a", story_id="a")])
    rules.add("watch", "harbour", ["log:/tmp/second.jsonl"])

    match_articles(es_client, settings, [
        make_article("https://example.com/b", story_id="b"),
        make_article("https://example.com/c", story_id="c", title="Harbour reopens", summary="",
                     body="Ships sail again."),
    ])

    alerts = {r.story_id: r for r in AlertStore(es_client, settings).all()}
    assert sorted(alerts) == ["a", "c"]  # b matches only the old query
    assert [d.channel for d in alerts["c"].deliveries] == ["log:/tmp/second.jsonl"]
    assert alerts["c"].query == "harbour"
