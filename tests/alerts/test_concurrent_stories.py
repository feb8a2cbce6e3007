"""One story, one alert, when two processes (two news_ingest shards) cluster copies of it at the same
moment: neither sees the other's copy when it clusters, so each founds a story; the re-check under
the recording lock (newsflow.alerts.story_merge) merges them before anything is recorded. Real
Elasticsearch, the real clustering, article store, rule store and log channel."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from enrich.stories import (
    ElasticsearchCandidates,
    FounderCopies,
    StoryAssigner,
    StoryCandidate,
    StoryMerge,
    similar_copies,
    story_merges,
    story_signature,
)
from newsflow.alerts import AlertStore, RuleStore, alert_id_for
from newsflow.alerts.processing import AlertRun
from newsflow.alerts.records import NewRecords, merged_records
from newsflow.alerts.rules import Rule
from newsflow.core.models import Article, utc_now
from newsflow.index.store import ArticleStore

_BODY = (
    "The central bank raised interest rates by a quarter point on Tuesday, its fourth increase this "
    "year, saying inflation in services had proved more stubborn than it expected in the spring. "
    "Governor Maria Lindqvist told reporters in Stockholm that the board saw wages rising faster "
    "than productivity and would act again if price growth did not slow by the end of the winter. "
    "Mortgage lenders said monthly payments on a typical loan would climb by about forty euros, "
    "and the krona firmed against the euro within minutes of the announcement. Economists at two "
    "of the largest banks had expected the board to wait until December."
)
_OTHER_BODY = (
    "Farmers in the northern provinces began the grape harvest three weeks early after the hottest "
    "August on record, and cooperatives warned that yields could fall by a fifth. The regional "
    "government promised low interest rates on emergency loans for growers whose vines were hit by "
    "hail in July, while wine makers said the sugar levels of the first pickings were unusually high. "
    "Seasonal workers arrived from across the border by bus, and several villages cancelled their "
    "autumn festivals to free the squares for the trucks carrying the crop to the presses."
)

pytestmark = [pytest.mark.es]


class _Shard:
    """One shard's part of the work, step by step: cluster, index, match (and record, deliver)."""

    def __init__(self, client: Any, settings: Any, articles: Sequence[Article]) -> None:
        self.client, self.settings = client, settings
        self.articles = list(articles)
        self.run = AlertRun(client, settings, digests_later=True, recheck_stories=True)
        self.assigned: list[Article] = []

    def cluster(self) -> None:
        # As a shard does: against what Elasticsearch holds now, plus its own batch.
        lookup = ElasticsearchCandidates(self.client, self.settings, ingested_before=utc_now())
        assigner = StoryAssigner(lookup, self.settings, merged=self.run.merged_stories)
        self.assigned = assigner.assign(self.articles)

    def index(self) -> None:
        assert ArticleStore(self.client, self.settings).write(self.assigned, alert_pending=True).indexed

    def match(self) -> None:
        self.run.match(self.assigned)


def _copy(make_article: Callable[..., Article], url: str, source: str, title: str,
          body: str = _BODY) -> Article:
    return make_article(url, source=source, title=title, body=body, summary="")


def _wire_and_daily(make_article: Callable[..., Article]) -> tuple[Article, Article]:
    wire = _copy(make_article, "https://wire.example.com/rates", "Wire",
                 "Central bank raises interest rates again")
    daily = _copy(make_article, "https://daily.example.org/business/rates-rise", "Daily",
                  "Central bank lifts interest rates for a fourth time")
    return wire, daily


def _settings(alert_settings: Callable[..., Any], digest: bool) -> Any:
    return alert_settings(email_digest=digest)


def _stories(client: Any, settings: Any, ids: Sequence[str]) -> list[str]:
    docs = client.mget(index=settings.index_name("articles"), ids=list(ids))["docs"]
    return [doc["_source"]["story_id"] for doc in docs]


def _records(client: Any, settings: Any) -> list[Any]:
    return AlertStore(client, settings).all()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# Steps of two shards A and B, each holding one copy, both clustered before either is indexed.
_ORDERS = {
    "both indexed, then A records, then B": ["A.index", "B.index", "A.match", "B.match"],
    "both indexed, then B records, then A": ["A.index", "B.index", "B.match", "A.match"],
    "A records and delivers before B indexes": ["A.index", "A.match", "B.index", "B.match"],
    "B records and delivers before A indexes": ["B.index", "B.match", "A.index", "A.match"],
    "interleaved: A indexes, B indexes and records, A records": ["A.index", "B.index", "B.match",
                                                                  "A.match"],
    "interleaved: B indexes, A indexes and records, B records": ["B.index", "A.index", "A.match",
                                                                  "B.match"],
}


@pytest.mark.parametrize("digest", [False, True], ids=["delivered at once", "e-mail digests"])
@pytest.mark.parametrize("order", list(_ORDERS))
def test_copies_clustered_by_two_shards_at_once_alert_once_under_one_story(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path, make_article: Callable[..., Article],
    order: str, digest: bool,
) -> None:
    settings = _settings(alert_settings, digest)
    log_file = tmp_path / "alerts.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates", [f"log:{log_file}"])
    wire, daily = _wire_and_daily(make_article)
    shards = {"A": _Shard(es_client, settings, [wire]),
              "B": _Shard(es_client, settings, [daily])}
    shards["A"].cluster()
    shards["B"].cluster()
    # Neither saw the other: two stories, as before the fix.
    assert [s.assigned[0].story_id for s in shards.values()] == [wire.id, daily.id]

    for step in _ORDERS[order]:
        name, action = step.split(".")
        getattr(shards[name], action)()

    [story] = set(_stories(es_client, settings, [wire.id, daily.id]))
    [record] = _records(es_client, settings)
    assert record.id == alert_id_for("rates", story)
    assert record.story_id == story
    if not digest:  # delivered by the shard that recorded it, once
        assert [line["story_id"] for line in _lines(log_file)] == [story]
    created = [s.run.totals().created for s in shards.values()]
    assert sorted(created) == [0, 1]

    # A retry of either shard (a fresh run matching its articles as it clustered them) adds nothing.
    for name in ("A", "B"):
        retry = AlertRun(es_client, settings, digests_later=True, recheck_stories=True)
        retry.match(shards[name].assigned)
        assert retry.totals().created == 0
    assert len(_records(es_client, settings)) == 1
    assert set(_stories(es_client, settings, [wire.id, daily.id])) == {story}
    if not digest:
        assert len(_lines(log_file)) == 1


def test_different_stories_in_two_shards_keep_their_stories_and_alerts(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path, make_article: Callable[..., Article],
) -> None:
    settings = _settings(alert_settings, False)
    log_file = tmp_path / "alerts.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates", [f"log:{log_file}"])
    wire, _ = _wire_and_daily(make_article)
    harvest = _copy(make_article, "https://daily.example.org/harvest", "Daily",
                    "Early grape harvest after record heat", body=_OTHER_BODY)
    a, b = _Shard(es_client, settings, [wire]), _Shard(es_client, settings, [harvest])
    a.cluster()
    b.cluster()
    a.index()
    b.index()
    a.match()
    b.match()

    assert _stories(es_client, settings, [wire.id, harvest.id]) == [wire.id, harvest.id]
    assert {r.story_id for r in _records(es_client, settings)} == {wire.id, harvest.id}
    assert len(_lines(log_file)) == 2


def test_a_later_copy_in_the_same_run_joins_the_story_its_founder_was_merged_into(
    alert_settings: Callable[..., Any], es_client: Any, tmp_path: Path, make_article: Callable[..., Article],
) -> None:
    settings = _settings(alert_settings, False)
    log_file = tmp_path / "alerts.jsonl"
    RuleStore(es_client, settings).add("rates", "interest rates", [f"log:{log_file}"])
    wire, daily = _wire_and_daily(make_article)
    a, b = _Shard(es_client, settings, [wire]), _Shard(es_client, settings, [daily])
    a.cluster()
    b.cluster()
    a.index()
    b.index()
    a.match()  # the first to record sees B's copy: A's founder joins B's story
    b.match()
    assert a.run.merged_stories == {wire.id: daily.id}

    # A's next group (same run, same in-memory assigner state) holds a third copy: it joins the
    # merged story, not the story its founder started.
    third = _copy(make_article, "https://local.example.net/rates", "Local",
                  "Central bank raises interest rates, fourth rise this year")
    assigner = StoryAssigner(ElasticsearchCandidates(es_client, settings, ingested_before=utc_now()),
                             settings, merged=a.run.merged_stories)
    assigner.assign(a.assigned)  # the first group, as the run clustered it
    [later] = assigner.assign([third])
    assert later.story_id == daily.id
    ArticleStore(es_client, settings).write([later], alert_pending=True)
    a.run.match([later])
    assert len(_records(es_client, settings)) == 1
    assert len(_lines(log_file)) == 1


# --- the pure parts --------------------------------------------------------------------------------

def _signed(article: Article) -> Article:
    from enrich.stories import story_bands

    signature = story_signature(article)
    return dataclasses.replace(article, story_signature=signature, story_bands=story_bands(signature),
                               story_id=article.id)


def _candidate(article: Article, story_id: str) -> StoryCandidate:
    return StoryCandidate(article.id, story_id, article.story_signature, article.published_at)


def test_a_founder_with_a_copy_of_another_story_joins_it(
    offline_settings: Any, make_article: Callable[..., Article],
) -> None:
    wire, daily = (_signed(a) for a in _wire_and_daily(make_article))
    harvest = _signed(_copy(make_article, "https://x.example/harvest", "X", "Harvest", body=_OTHER_BODY))

    copies = similar_copies([wire, harvest], [_candidate(daily, daily.id), _candidate(wire, wire.id)],
                            offline_settings)

    assert copies == [FounderCopies(wire.id, ((daily.id, daily.id),))]  # itself and harvest: not
    both = tuple(sorted((wire.id, daily.id)))
    assert story_merges(copies, {}) == {wire.id: StoryMerge(wire.id, daily.id, both)}
    # The copy joined another story since: the founder goes there, and knows both ids.
    assert story_merges(copies, {daily.id: "story-x"}) == {
        wire.id: StoryMerge(wire.id, "story-x", tuple(sorted((wire.id, daily.id, "story-x"))))}
    # The copy was merged into the founder's story meanwhile (the other shard recorded first): no swap.
    assert story_merges(copies, {daily.id: wire.id}) == {}
    # Not a founder (it joined a story when clustered): left alone.
    joined = dataclasses.replace(wire, story_id="story-1")
    assert similar_copies([joined], [_candidate(daily, daily.id)], offline_settings) == []


def test_merges_that_lead_on_or_go_round_end_in_one_story() -> None:
    chain = [FounderCopies("a", (("x1", "b"),)), FounderCopies("b", (("x2", "c"),))]
    assert {s: m.into for s, m in story_merges(chain, {}).items()} == {"a": "c", "b": "c"}
    cycle = [FounderCopies("a", (("x1", "b"),)), FounderCopies("b", (("x2", "a"),))]
    assert {s: m.into for s, m in story_merges(cycle, {}).items()} == {"b": "a"}


def test_records_move_with_their_story_and_know_its_other_ids(make_article: Callable[..., Article]) -> None:
    rule = Rule(name="rates", query="interest rates", channels=("log:/tmp/x",), created_at=utc_now())
    wire, daily = (dataclasses.replace(a, story_id=a.id) for a in _wire_and_daily(make_article))
    make = NewRecords(utc_now()).make
    merge = StoryMerge(wire.id, daily.id, tuple(sorted((wire.id, daily.id))))

    records, aliases = merged_records([make(rule, wire), make(rule, daily)], {wire.id: merge})

    [record] = records  # both copies' records are one alert now
    assert (record.id, record.story_id, record.article.id) == (
        alert_id_for("rates", daily.id), daily.id, wire.id)
    assert aliases == {record.id: (alert_id_for("rates", wire.id),)}
    assert merged_records([make(rule, wire)], {}) == ([make(rule, wire)], {})


# --- two real shards (Pipelines) at once ---------------------------------------------------------

class _AfterBoth:
    """The real Elasticsearch lookup, then a wait until the other shard has looked too: both
    cluster before either indexes, as two shards running at the same moment do."""

    def __init__(self, lookup: Any, barrier: Any) -> None:
        self._lookup, self._barrier = lookup, barrier

    def find(self, bands: Sequence[str], since: Any) -> list[StoryCandidate]:
        found: list[StoryCandidate] = self._lookup.find(bands, since)
        self._barrier.wait()
        return found


def test_two_shards_running_at_once_with_copies_of_one_story_alert_once(
    alert_settings: Callable[..., Any], es_client: Any, feed_server: Any, tmp_path: Path,
) -> None:
    import threading
    from datetime import UTC, datetime, timedelta

    from newsflow.app.cycle import Pipeline, load_feed_specs
    from newsflow.app.stores import default_stores
    from newsflow.core.es import make_client
    from tests.alerts.test_cycle import WIRE_STORY, _rss
    from tests.support.feedserver import Response

    settings = alert_settings()
    settings = settings.model_copy(update={"fetch": settings.fetch.model_copy(
        update={"politeness_delay": 0.0})})
    published = datetime.now(UTC) - timedelta(hours=1)
    rss = {"Content-Type": "application/rss+xml"}
    wire = feed_server.route("/wire.xml", Response(body=_rss("Wire", [
        ("ECB raises interest rates again", "https://wire.example.com/ecb-rates", WIRE_STORY)],
        published), headers=rss))
    daily = feed_server.route("/daily.xml", Response(body=_rss("Daily", [
        ("Lagarde's ECB lifts rates for third time", "https://daily.example.org/business/ecb",
         WIRE_STORY[:3])], published), headers=rss))
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {wire}\n  - url: {daily}\n")
    log_file = tmp_path / "alerts.jsonl"
    RuleStore(es_client, settings).add("ecb", '"interest rate" OR "central bank"', [f"log:{log_file}"])
    specs = load_feed_specs(feeds_file)
    barrier = threading.Barrier(2, timeout=120)
    reports: dict[str, Any] = {}
    errors: list[BaseException] = []

    def shard(spec: Any) -> None:
        try:
            client = make_client(settings)
            real = default_stores(client, settings)
            stores = dataclasses.replace(
                real, candidates=lambda since: _AfterBoth(real.candidates(since), barrier))
            with Pipeline(settings, client=client, stores=stores, digests_later=True,
                          recheck_stories=True) as pipeline:
                pipeline.ingest([spec], match_alerts=True)
                reports[spec.url] = pipeline.matched_alerts()
            client.close()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=shard, args=(spec,)) for spec in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors

    es_client.indices.refresh(index=settings.index_name("articles"))
    hits = es_client.search(index=settings.index_name("articles"), size=10)["hits"]["hits"]
    assert len(hits) == 2
    [story] = {hit["_source"]["story_id"] for hit in hits}
    [record] = _records(es_client, settings)
    assert record.story_id == story
    assert [line["story_id"] for line in _lines(log_file)] == [story]
    assert sorted(r.created for r in reports.values()) == [0, 1]
