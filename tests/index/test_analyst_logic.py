"""The analyst views' pure parts, without a cluster: the trends request, the diff of two copies of a
story, the Atom document (validated by feedparser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from newsflow.core.errors import QueryError
from newsflow.index.atom import article_entry_id, atom_feed, search_feed_id
from newsflow.index.search import SearchHit
from newsflow.index.timeline import StoryCopy, build_timeline, compare, paragraphs, story_request, word_diff
from newsflow.index.trends import TREND_FIELDS, build_trends_request

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# --- trends ---------------------------------------------------------------------------------------


def test_the_trends_request_compares_the_window_with_the_whole_index_by_default() -> None:
    request = build_trends_request(TREND_FIELDS, window_start=NOW - timedelta(hours=24), min_count=2)

    assert request["query"]["bool"]["must"] == [{"match_all": {}}]
    assert {"range": {"published_at": {"gte": "2026-11-19T12:00:00Z"}}} in request["query"]["bool"]["filter"]
    for name in TREND_FIELDS:
        significant = request["aggs"][name]["significant_terms"]
        assert significant["field"] == name and significant["min_doc_count"] == 2
        assert "background_filter" not in significant  # the whole index
        stories = request["aggs"][name]["aggs"]["top_stories"]
        assert stories["terms"]["field"] == "story_id"
        assert stories["aggs"]["copy"]["top_hits"]["size"] == 1
    assert request["aggs"]["background"]["aggs"]["articles"]["filter"] == {"match_all": {}}


def test_a_background_window_a_query_and_filters_narrow_the_request() -> None:
    request = build_trends_request(
        ["persons"], window_start=NOW - timedelta(hours=6), background_start=NOW - timedelta(days=7),
        query='persons:"Olaf Scholz"', filters=[("source", "BBC")], stories=0,
    )

    background = {"range": {"published_at": {"gte": "2026-11-13T12:00:00Z"}}}
    assert request["aggs"]["persons"]["significant_terms"]["background_filter"] == background
    assert "top_stories" not in request["aggs"]["persons"]["aggs"]
    assert set(request["aggs"]) == {"persons", "background"}
    query = request["query"]["bool"]["must"][0]["query_string"]["query"]
    assert query == 'persons_alias:("Olaf Scholz" OR "Scholz")'
    assert {"term": {"source": "BBC"}} in request["query"]["bool"]["filter"]


@pytest.mark.parametrize(("fields", "options", "message"), [
    (["authors"], {}, "trends are found on persons"),
    ([], {}, "trends are found on"),
    (["persons"], {"size": 0}, "size must be"),
    (["persons"], {"background_start": NOW}, "background window must be longer"),
])
def test_bad_trends_requests_are_query_errors(fields: list[str], options: dict[str, object],
                                              message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build_trends_request(fields, window_start=NOW - timedelta(hours=1), **options)  # type: ignore[arg-type]


# --- timeline -------------------------------------------------------------------------------------


def _copy(title: str, body: str, *, source: str = "BBC", summary: str = "", published: str = "") -> StoryCopy:
    return StoryCopy(id=title, title=title, summary=summary, body=body, url=f"https://x.test/{source}",
                     source=source, feed_url="", credit=(), distributor=(), authors=(),
                     published_at=published, ingested_at="")


def test_paragraphs_are_split_on_blank_lines_with_whitespace_collapsed() -> None:
    text = "One  line\nwrapped.\n\n\n  Two. \n \nThree."
    assert paragraphs(text) == ["One line wrapped.", "Two.", "Three."]
    assert paragraphs("") == []


def test_word_diff_marks_what_was_removed_and_added() -> None:
    assert word_diff("Gas talks resume", "Gas talks stall again") == "Gas talks [-resume-] {+stall again+}"
    assert word_diff("same words", "same  words") == "same words"


def test_word_diff_with_context_cuts_long_unchanged_runs() -> None:
    before = "one two three four five six seven eight nine ten"
    after = "one two three four five SIX seven eight nine ten"

    assert word_diff(before, after, context=2) == "… four five [-six-] {+SIX+} seven eight …"
    assert word_diff(before, before, context=2) == before  # nothing changed: nothing cut


def test_compare_finds_title_edits_and_added_removed_and_reworded_paragraphs() -> None:
    before = _copy("Gas talks resume", "Talks resumed in Berlin on Monday.\n\nPrices fell.\n\nOld ending.")
    after = _copy("Gas talks resume in Berlin",
                  "Talks resumed in Berlin late on Monday.\n\nPrices fell.\n\nA new quote from a minister.",
                  summary="changed")

    changes = compare(before, after)

    assert changes.title is not None and changes.title.diff == "Gas talks resume {+in Berlin+}"
    assert [e.diff for e in changes.edited] == ["Talks resumed in Berlin {+late+} on Monday."]
    assert changes.added == ("A new quote from a minister.",)
    assert changes.removed == ("Old ending.",)
    assert changes.summary_changed and not changes.identical


def test_an_identical_copy_is_reported_as_such_and_the_first_copy_has_no_changes() -> None:
    first = _copy("Title", "Body.", source="BBC", published="2026-11-20T09:00:00Z")
    second = _copy("Title", "Body.", source="Reuters", published="2026-11-20T10:00:00Z")
    third = _copy("Title", "Body.", source="BBC", published="2026-11-20T11:00:00Z")

    timeline = build_timeline("s1", [first, second, third])

    assert timeline.entries[0].changes is None
    assert timeline.entries[1].changes is not None and timeline.entries[1].changes.identical
    assert timeline.outlets == ("BBC", "Reuters")
    data = timeline.to_json()
    assert (data["copies"], data["first_seen"], data["last_seen"]) == (
        3, "2026-11-20T09:00:00Z", "2026-11-20T11:00:00Z")


def test_the_story_request_filters_on_the_story_and_sorts_first_seen_first() -> None:
    request = story_request("abc")

    assert request["query"] == {"bool": {"filter": [{"term": {"story_id": "abc"}}]}}
    assert request["sort"][0] == {"published_at": "asc"}
    assert {"credit", "distributor", "feed_url", "body"} <= set(request["source_includes"])


# --- Atom -----------------------------------------------------------------------------------------


def _hit(number: int, **fields: object) -> SearchHit:
    values: dict[str, object] = {
        "id": f"id{number}", "title": f"Title {number}", "url": f"https://x.test/{number}?a=1&b=2",
        "source": "BBC", "published_at": f"2026-11-20T0{number}:00:00Z", "story_id": f"s{number}",
        "score": 1.0, "summary": f"Summary {number}", "ingested_at": f"2026-11-20T0{number}:30:00Z",
    }
    values.update(fields)
    return SearchHit(**values)  # type: ignore[arg-type]


def test_the_atom_feed_is_valid_and_escapes_everything() -> None:
    hits = [
        _hit(1, title="AT&T <script>alert(1)</script> \x00\x1b", summary="a < b & \"c\" \ufffe",
             authors=("Jane Roe", "John <Doe>")),
        _hit(2, source="", authors=()),
    ]

    document = atom_feed(hits, title="newsflow: gas & <oil>", feed_id=search_feed_id("news", "gas"), now=NOW,
                         subtitle="search 'gas'", self_url="http://127.0.0.1/feed?q=a&b")
    feed = feedparser.parse(document)

    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "newsflow: gas & <oil>"
    assert feed.feed.updated == "2026-11-20T02:30:00Z"  # the newest entry's
    assert [e.link for e in feed.entries] == ["https://x.test/1?a=1&b=2", "https://x.test/2?a=1&b=2"]
    first, second = feed.entries
    assert first.title == "AT&T <script>alert(1)</script>"  # the control characters dropped
    assert first.summary == 'a < b & "c"'
    assert [a.name for a in first.authors] == ["Jane Roe", "John <Doe>"]
    assert first.id == article_entry_id("id1") and first.id.startswith("urn:uuid:")
    assert first.published == "2026-11-20T01:00:00Z" and first.updated == "2026-11-20T01:30:00Z"
    assert "author" not in second and feed.feed.author == "newsflow"  # the feed's covers it (RFC 4287)
    assert "<script>" not in document and "\x00" not in document


def test_feed_ids_are_stable_per_search_and_prefix() -> None:
    bbc = [("source", "BBC")]
    assert search_feed_id("news", "gas", bbc) == search_feed_id("news", "gas", list(bbc))
    assert search_feed_id("news", "gas", bbc) != search_feed_id("news", "gas")
    assert search_feed_id("news", "gas") != search_feed_id("desk", "gas")
    assert search_feed_id("news", "gas") != search_feed_id("news", "gas", since="24h")
    assert article_entry_id("a") == article_entry_id("a") != article_entry_id("b")


def test_an_empty_search_is_a_valid_feed_updated_now() -> None:
    document = atom_feed([], title="newsflow: none", feed_id=search_feed_id("news", "x"), now=NOW)
    feed = feedparser.parse(document)

    assert feed.bozo == 0 and feed.entries == []
    assert feed.feed.updated == "2026-11-20T12:00:00Z"
