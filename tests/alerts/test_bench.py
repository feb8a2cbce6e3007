"""The percolation benchmark, on a tiny input: realistic rule shapes, figures per rule count, clean-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from newsflow.alerts import AlertStore, RuleStore
from newsflow.core.models import Article
from newsflow.dev.bench_alerts import create_rules, percolation_cost, synthetic_queries


def _articles(make_article: Callable[..., Article]) -> list[Article]:
    return [
        make_article("https://example.com/1", story_id="s1", persons=("Angela Merkel",),
                     locations=("Berlin",), topics=("politics",),
                     title="Merkel speaks in Berlin about pensions and budget reform"),
        make_article("https://example.com/2", story_id="s2", organizations=("European Union",),
                     locations=("Brussels",), topics=("economy, business and finance",),
                     title="European budget talks stall over pensions"),
        make_article("https://example.com/3", story_id="s3",
                     title="Storm floods coastal towns; budget for repairs approved"),
    ]


def test_synthetic_queries_use_the_articles_entities_and_words(
    make_article: Callable[..., Article]
) -> None:
    queries = synthetic_queries(_articles(make_article), 200)

    assert len(queries) == 200
    assert any(q.startswith('persons:"Angela Merkel"') for q in queries)
    assert any(q.startswith('organizations:"European Union"') for q in queries)
    assert any(" AND topics:" in q for q in queries)
    assert any(q.startswith("title:") for q in queries)
    assert synthetic_queries(_articles(make_article), 200) == queries  # reproducible


def test_every_synthetic_rule_is_a_valid_query(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    store = RuleStore(es_client, settings)
    store.ensure()
    for query in set(synthetic_queries(_articles(make_article), 60)):
        store.validate(query)  # raises QueryError on an invalid one


def test_percolation_cost_reports_each_rule_count_and_leaves_the_prefix_as_found(
    settings: Any, es_client: Any, make_article: Callable[..., Article], tmp_path: Any
) -> None:
    RuleStore(es_client, settings).add("users-own", "budget", [f"log:{tmp_path / 'a.jsonl'}"])
    articles = _articles(make_article)

    figures = percolation_cost(es_client, settings, articles, rule_counts=(5, 20))

    assert list(figures) == ["5", "20"]
    assert figures["5"]["rules"] == 6 and figures["20"]["rules"] == 21  # with the user's own rule
    for row in figures.values():
        assert row["articles"] == 3
        assert row["seconds_per_1000_articles"] > 0
        assert row["percolate_seconds_per_1000_articles"] > 0
    assert figures["20"]["matched"] >= figures["5"]["matched"] > 0
    assert [r.name for r in RuleStore(es_client, settings).list()] == ["users-own"]
    assert {r.rule for r in AlertStore(es_client, settings).all()} <= {"users-own"}


def test_rules_can_be_created_before_any_article_exists(settings: Any, es_client: Any) -> None:
    assert create_rules(es_client, settings, 50) == 50
    assert RuleStore(es_client, settings).count() == 50


def test_rule_words_pick_out_stories_rather_than_common_news_words(
    make_article: Callable[..., Article]
) -> None:
    # "reports" is in every article, far over the 1% a monitoring term would reach; "zebras" in two.
    articles = [make_article(f"https://example.com/{n}", title=f"Reports from the desk {n}")
                for n in range(300)]
    articles += [make_article(f"https://example.com/z{n}", title="Reports of escaped zebras")
                 for n in range(2)]
    queries = synthetic_queries(articles, 100)
    assert not any("reports" in q for q in queries)
    assert any("zebras" in q for q in queries)


def test_rule_words_are_judged_by_their_stem_as_the_english_analyzer_matches_them(
    settings: Any, es_client: Any, make_article: Callable[..., Article]
) -> None:
    from newsflow.dev.bench_alerts import english_stems

    RuleStore(es_client, settings).ensure()
    stems = english_stems(es_client, settings, ["presided", "president", "the"])
    assert stems["presided"] == stems["president"] and "the" not in stems  # a stop word has no token
    # "presided" is in two articles, but a rule on it matches "president" in all of them.
    articles = [make_article(f"https://example.com/{n}", title=f"The president spoke {n}")
                for n in range(300)]
    articles += [make_article(f"https://example.com/p{n}", title="She presided over zebras")
                 for n in range(2)]
    words = ["she", "presided", "over", "zebras", "the", "president", "spoke"]
    queries = synthetic_queries(articles, 100, stems=english_stems(es_client, settings, words))
    assert not any("presided" in q for q in queries) and any("zebras" in q for q in queries)
    assert any("presided" in q for q in synthetic_queries(articles, 100))  # by the surface word
