"""The analyst views against the real Elasticsearch, through the CLI: `newsflow trends`,
`newsflow story`, `newsflow search --by-story / --trends / --format atom`.

One corpus, indexed once for the module: an old background (published 10 to 20 days ago) in which
Olaf Scholz, the European Union and Berlin are everyday names, and a last day in which Kamala Harris
and NATO suddenly appear, in two stories (one carried by three outlets, edited between copies)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner, Result

from newsflow.cli import cli
from newsflow.core.models import utc_now
from newsflow.index.atom import article_entry_id
from newsflow.index.store import ArticleStore
from newsflow.index.trends import find_trends
from tests.index.articles import build_article

pytestmark = pytest.mark.es

HARRIS_BODY = [
    "Kamala Harris met NATO ministers in Brussels on Tuesday.",
    "The talks covered air defence and the alliance's budget.",
]


@pytest.fixture(scope="module")
def corpus(module_client: Any, module_settings: Any) -> dict[str, Any]:
    now = utc_now()
    old = [
        build_article(f"old-{i}", title=f"Coalition row, day {i}", source="Example News",
                      persons=("Olaf Scholz",) + (("Vladimir Putin",) if i % 4 == 0 else ()),
                      organizations=("European Union",), locations=("Berlin",), topics=("politics",),
                      story_id=f"st-old-{i}", published_at=now - timedelta(days=10 + i))
        for i in range(12)
    ]
    harris = [
        build_article("harris-bbc", title="Harris meets NATO ministers", source="BBC",
                      feed_url="https://bbc.example/world.xml", body="\n\n".join(HARRIS_BODY),
                      persons=("Kamala Harris", "Olaf Scholz"), organizations=("NATO",),
                      locations=("Brussels",), topics=("defence",), story_id="st-harris",
                      published_at=now - timedelta(hours=5)),
        build_article("harris-reuters", title="Harris meets NATO ministers in Brussels", source="Reuters",
                      feed_url="https://reuters.example/top.xml",
                      body="\n\n".join([*HARRIS_BODY, "Olaf Scholz joined by video link."]),
                      persons=("Kamala Harris", "Olaf Scholz"), organizations=("NATO",),
                      locations=("Brussels",), topics=("defence",), story_id="st-harris",
                      published_at=now - timedelta(hours=4)),
        build_article("harris-local", title="Harris meets NATO ministers in Brussels", source="Daily Local",
                      feed_url="https://local.example/feed.rss", credit=("Reuters",),
                      distributor=("Tribune Content Agency",),
                      body="\n\n".join([HARRIS_BODY[0], "The talks covered air defence and the budget.",
                                        "Olaf Scholz joined by video link."]),
                      persons=("Kamala Harris", "Olaf Scholz"), organizations=("NATO",),
                      locations=("Brussels",), topics=("defence",), story_id="st-harris",
                      published_at=now - timedelta(hours=2)),
        build_article("harris-speech", title='Harris: "AT&T <b>deal</b>" & \x0bdefence', source="AP",
                      summary="Harris spoke on <defence> & trade.", authors=("Jane Roe",),
                      persons=("Kamala Harris",), organizations=("NATO",), topics=("defence",),
                      story_id="st-harris-2", published_at=now - timedelta(hours=1)),
    ]
    scholz = [
        build_article(f"scholz-{i}", title=f"Scholz budget vote {i}", source="Example News",
                      persons=("Olaf Scholz",), organizations=("European Union",), locations=("Berlin",),
                      topics=("politics",), story_id="st-scholz", published_at=now - timedelta(hours=3 + i))
        for i in range(2)
    ]
    store = ArticleStore(module_client, module_settings)
    store.write(old + harris + scholz)
    store.refresh()
    return {"harris": harris, "scholz": scholz, "old": old}


@pytest.fixture
def run(module_settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NEWSFLOW_ES_URL", module_settings.es_url)
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", module_settings.index_prefix)
    monkeypatch.setenv("NEWSFLOW_HOME", str(module_settings.home))
    monkeypatch.setenv("COLUMNS", "200")  # the human views are tables: wide enough not to wrap titles

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args))

    return invoke


# --- trends ---------------------------------------------------------------------------------------


def test_trends_name_what_is_new_in_the_window_not_what_is_always_there(run: Any, corpus: Any) -> None:
    outcome = run("trends", "--since", "24h", "--json")

    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["window"]["articles"] == 6 and data["background"] == {"from": None, "articles": 18}
    [harris] = data["fields"]["persons"]  # Olaf Scholz is in 5 of 6, but in 17 of 18 overall
    assert harris["value"] == "Kamala Harris"
    assert (harris["count"], harris["background_count"], harris["stories"]) == (4, 4, 2)
    first, second = harris["top_stories"]
    assert first == {"story_id": "st-harris", "copies": 3, "title": "Harris meets NATO ministers",
                     "url": corpus["harris"][0].url, "source": "BBC",
                     "published_at": first["published_at"]}
    assert (second["story_id"], second["copies"], second["source"]) == ("st-harris-2", 1, "AP")
    assert [t["value"] for t in data["fields"]["organizations"]] == ["NATO"]
    assert [t["value"] for t in data["fields"]["topics"]] == ["defence"]
    assert "European Union" not in json.dumps(data) and "politics" not in json.dumps(data["fields"])


def test_trends_against_a_background_window_that_holds_only_the_window(run: Any, corpus: Any) -> None:
    # Against the last 7 days (which hold only the last day's articles) nothing is unusual.
    narrow = json.loads(run("trends", "--background", "7d", "--json").stdout)
    wide = json.loads(run("trends", "--background", "30d", "--field", "persons", "--json").stdout)

    assert narrow["background"]["articles"] == 6
    assert all(not trends for trends in narrow["fields"].values())
    assert list(wide["fields"]) == ["persons"]
    assert [t["value"] for t in wide["fields"]["persons"]] == ["Kamala Harris"]


def test_trends_honour_min_count_query_and_stories(module_client: Any, module_settings: Any,
                                                   corpus: Any) -> None:
    strict = find_trends(module_client, module_settings, fields=("persons",), min_count=5)
    narrowed = find_trends(module_client, module_settings, fields=("persons",), query="source:AP",
                           min_count=1, stories=0)

    assert strict.fields["persons"] == ()
    assert narrowed.articles == 1
    assert [t.value for t in narrowed.fields["persons"]] == ["Kamala Harris"]
    assert narrowed.fields["persons"][0].top_stories == ()


def test_the_human_view_of_trends(run: Any, corpus: Any) -> None:
    outcome = run("trends", "--field", "persons", "--field", "organizations")

    assert outcome.exit_code == 0, outcome.output
    assert "trending among 6 article(s)" in outcome.stdout and "whole index" in outcome.stdout
    assert "Kamala Harris" in outcome.stdout and "NATO" in outcome.stdout
    assert "Harris meets NATO ministers" in outcome.stdout and "3 copies" in outcome.stdout
    assert "Olaf Scholz" not in outcome.stdout


def test_search_json_carries_trends_when_asked(run: Any, corpus: Any) -> None:
    plain = json.loads(run("search", "topics:defence", "--json").stdout)
    outcome = run("search", "topics:defence", "--since", "24h", "--json", "--trends")

    assert "trends" not in plain
    data = json.loads(outcome.stdout)
    assert data["total"] == 4
    assert data["trends"]["window"]["articles"] == 4
    assert [t["value"] for t in data["trends"]["fields"]["persons"]] == ["Kamala Harris"]
    assert "Olaf Scholz" not in json.dumps(data["trends"])  # in 3 of the 4, but in 17 of all 18


def test_a_bad_trends_window_exits_non_zero(run: Any, corpus: Any) -> None:
    outcome = run("trends", "--since", "7d", "--background", "1d")

    assert outcome.exit_code == 2
    assert "background window must be longer" in outcome.stderr


# --- a story's timeline and search by story --------------------------------------------------------


def test_story_lists_every_copy_first_seen_first_with_what_changed(run: Any, corpus: Any) -> None:
    outcome = run("story", "st-harris", "--json")

    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["copies"] == 3 and data["outlets"] == ["BBC", "Reuters", "Daily Local"]
    first, second, third = data["timeline"]
    assert first["changes"] is None and first["feed_url"] == "https://bbc.example/world.xml"
    assert second["changes"]["title"] == {
        "from": "Harris meets NATO ministers", "to": "Harris meets NATO ministers in Brussels",
        "diff": "Harris meets NATO ministers {+in Brussels+}"}
    assert second["changes"]["paragraphs_added"] == ["Olaf Scholz joined by video link."]
    assert second["changes"]["paragraphs_removed"] == [] and not second["changes"]["identical"]
    assert third["credit"] == ["Reuters"] and third["distributor"] == ["Tribune Content Agency"]
    assert third["changes"]["title"] is None
    assert third["changes"]["paragraphs_edited"] == [{
        "from": HARRIS_BODY[1], "to": "The talks covered air defence and the budget.",
        "diff": "The talks covered air defence and the [-alliance's-] budget."}]
    assert first["published_at"] < second["published_at"] < third["published_at"]


def test_the_human_view_of_a_story(run: Any, corpus: Any) -> None:
    outcome = run("story", "st-harris")

    assert outcome.exit_code == 0, outcome.output
    assert "story st-harris: 3 copies from 3 outlet(s): BBC, Reuters, Daily Local" in outcome.stdout
    assert "{+in Brussels+}" in outcome.stdout
    assert "+ Olaf Scholz joined by video link." in outcome.stdout
    assert "credit Reuters; distributor Tribune Content Agency" in outcome.stdout


def test_an_unknown_story_exits_non_zero_saying_where_story_ids_are(run: Any, corpus: Any) -> None:
    outcome = run("story", "no-such-story")

    assert outcome.exit_code == 2
    assert "no article has story_id 'no-such-story'" in outcome.stderr
    assert "Traceback" not in outcome.output


def test_search_by_story_gives_one_hit_per_story_with_its_copies(run: Any, corpus: Any) -> None:
    outcome = run("search", "*", "--since", "24h", "--by-story", "--json")

    data = json.loads(outcome.stdout)
    assert data["total"] == 6 and data["stories"] == 3
    copies = {hit["story_id"]: hit["copies"] for hit in data["hits"]}
    assert copies == {"st-harris": 3, "st-scholz": 2, "st-harris-2": 1}
    narrowed = json.loads(run("search", "video", "--by-story", "--json").stdout)
    assert [(h["story_id"], h["copies"]) for h in narrowed["hits"]] == [("st-harris", 2)]


def test_the_human_view_by_story(run: Any, corpus: Any) -> None:
    outcome = run("search", 'persons:"Kamala Harris"', "--by-story")

    assert outcome.exit_code == 0, outcome.output
    assert "4 article(s) in 2 stories match; showing 2 stories" in outcome.stdout
    assert "3 copies" in outcome.stdout


# --- searches as feeds ----------------------------------------------------------------------------


def test_search_as_an_atom_feed_is_valid_and_holds_the_hits(run: Any, corpus: Any) -> None:
    query = 'persons:"Kamala Harris"'
    hits = json.loads(run("search", query, "--json").stdout)["hits"]
    outcome = run("search", query, "--format", "atom")

    assert outcome.exit_code == 0, outcome.output
    feed = feedparser.parse(outcome.stdout)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == f"newsflow: {query}"
    assert [e.link for e in feed.entries] == [h["url"] for h in hits]
    assert [e.id for e in feed.entries] == [article_entry_id(h["id"]) for h in hits]
    speech = next(e for e in feed.entries if e.link == corpus["harris"][3].url)
    assert speech.title == 'Harris: "AT&T <b>deal</b>" & defence'  # escaped, the control char dropped
    assert speech.summary == "Harris spoke on <defence> & trade."
    assert speech.author == "Jane Roe"
    bbc = next(e for e in feed.entries if e.link == corpus["harris"][0].url)
    assert bbc.author == "BBC" and bbc.updated_parsed and bbc.published_parsed
    again = run("search", query, "--format", "atom")
    assert feedparser.parse(again.stdout).feed.id == feed.feed.id  # a reader sees the same feed


def test_an_atom_feed_by_story_and_an_empty_one(run: Any, corpus: Any) -> None:
    by_story = feedparser.parse(run("search", "topics:defence", "--by-story", "--format", "atom").stdout)
    empty = feedparser.parse(run("search", "nothing-matches-this", "--format", "atom").stdout)

    assert by_story.bozo == 0 and len(by_story.entries) == 2
    assert empty.bozo == 0 and empty.entries == [] and empty.feed.updated_parsed
