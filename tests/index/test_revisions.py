"""Edit history against the real Elasticsearch: an article re-indexed because its content changed
keeps its previous version in `<prefix>-revisions`, once per version, bounded per article."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.dedupe import classify
from newsflow.cli import cli
from newsflow.core.es import make_client
from newsflow.core.models import Article
from newsflow.index.revisions import revision_id_for, revision_names, revisions_of, search_revisions
from newsflow.index.store import ArticleStore
from tests.index.articles import build_article

pytestmark = pytest.mark.es

FIRST = build_article("harbour", title="Harbour crane collapses", story_id="st-crane",
                      body="A crane fell at the harbour on Monday.\n\nNo one was hurt.")
SECOND = replace(FIRST, title="Harbour crane collapses, two injured",
                 body="A crane fell at the harbour on Monday.\n\nTwo workers were taken to hospital.")
THIRD = replace(SECOND, body=SECOND.body + "\n\nThe port authority opened an inquiry.")


def cycle(settings: Any, articles: Sequence[Article]) -> tuple[int, int]:
    """What a cycle does with its batch, as `newsflow run` (a new process: a new store): classify
    against the stored hashes, write new and updated. (updated, revisions kept)."""
    with make_client(settings) as client:
        store = ArticleStore(client, settings)
        store.refresh()
        classified = classify(list(articles), store.stored_articles([a.id for a in articles]))
        written = store.write([*classified.new, *classified.updated])
        store.refresh()
    assert not written.deferred and not written.errors
    return len(classified.updated), written.revisions


def test_an_article_changed_twice_over_three_cycles_keeps_two_revisions_and_a_rerun_adds_none(
    settings: Any, es_client: Any,
) -> None:
    assert cycle(settings, [FIRST]) == (0, 0)
    assert cycle(settings, [SECOND]) == (1, 1)
    assert cycle(settings, [THIRD]) == (1, 1)
    assert cycle(settings, [THIRD]) == (0, 0)  # a re-run: unchanged
    kept = revisions_of(es_client, settings, [FIRST.id])[FIRST.id]
    assert [(r.number, r.title, r.content_hash, r.replaced_by_hash) for r in kept] == [
        (1, FIRST.title, FIRST.content_hash, SECOND.content_hash),
        (2, SECOND.title, SECOND.content_hash, THIRD.content_hash)]
    assert kept[0].id == revision_id_for(FIRST.id, FIRST.content_hash)
    assert kept[0].body == FIRST.body and kept[0].ingested_at == "2026-11-20T10:00:00Z"
    # Searchable with the article analyzer (stemmed: "hurt" in the first version only).
    total, found = search_revisions(es_client, settings, "hurt")
    assert (total, [r.number for r in found]) == (1, [1])
    assert search_revisions(es_client, settings, f'article_id:"{FIRST.id}"')[0] == 2


def test_a_retried_write_of_the_same_update_writes_the_same_revision(settings: Any, es_client: Any) -> None:
    cycle(settings, [FIRST])
    # A cycle killed after the revision was written but before the article was: the next cycle
    # finds the article unchanged in the store and writes the revision again, under the same id.
    with make_client(settings) as client:
        store = ArticleStore(client, settings)
        store._keep_revisions({SECOND.id: SECOND.to_document()})
    assert cycle(settings, [SECOND]) == (1, 1)
    kept = revisions_of(es_client, settings, [FIRST.id])[FIRST.id]
    assert [(r.number, r.title) for r in kept] == [(1, FIRST.title)]


def test_the_revisions_per_article_are_bounded(make_settings: Any) -> None:
    settings = make_settings(index={"max_revisions": 3})
    versions = [replace(FIRST, title=f"Harbour crane collapses, update {n}") for n in range(6)]
    for version in versions:
        cycle(settings, [version])
    with make_client(settings) as client:
        client.indices.refresh(index=revision_names(settings).alias)
        kept = revisions_of(client, settings, [FIRST.id])[FIRST.id]
        policy = client.ilm.get_lifecycle(name=revision_names(settings).ilm_policy)
        explained = client.ilm.explain_lifecycle(index=revision_names(settings).alias)
    assert [(r.number, r.title) for r in kept] == [(n + 1, versions[n].title) for n in (2, 3, 4)]
    assert "delete" in policy[revision_names(settings).ilm_policy]["policy"]["phases"]
    assert all(info["managed"] for info in explained["indices"].values())


def test_new_and_unchanged_articles_read_no_previous_version(settings: Any) -> None:
    other = build_article("fair")
    cycle(settings, [FIRST, other])
    with make_client(settings) as client:
        store = ArticleStore(client, settings)
        store.stored_articles([FIRST.id, other.id])
        # The hashes the lookup saw are the ones about to be written: nothing is read back.
        assert store._keep_revisions({a.id: a.to_document() for a in (FIRST, other)}).revisions == 0
        assert store._revisions.previous_versions({}) == {}


def test_story_shows_each_copys_revisions_with_what_each_edit_changed(
    settings: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy = build_article("crane-copy", title="Crane falls at harbour", story_id="st-crane",
                         source="Daily Local", body=FIRST.body)
    for batch in ([FIRST, copy], [SECOND, copy], [THIRD, copy]):
        cycle(settings, batch)
    for name, value in (("NEWSFLOW_ES_URL", settings.es_url),
                        ("NEWSFLOW_INDEX_PREFIX", settings.index_prefix),
                        ("NEWSFLOW_HOME", str(settings.home)), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    outcome = CliRunner().invoke(cli, ["story", "st-crane", "--json"])
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["revisions"] == 2
    by_id = {entry["id"]: entry for entry in data["timeline"]}
    assert by_id[copy.id]["revisions"] == []
    first, second = by_id[FIRST.id]["revisions"]
    assert (first["revision"], first["title"]) == (1, FIRST.title)
    assert first["changes"]["title"]["to"] == SECOND.title
    assert first["changes"]["paragraphs_removed"] == ["No one was hurt."]
    assert first["changes"]["paragraphs_added"] == ["Two workers were taken to hospital."]
    assert (second["revision"], second["changes"]["title"]) == (2, None)
    assert second["changes"]["paragraphs_added"] == ["The port authority opened an inquiry."]
    human = CliRunner().invoke(cli, ["story", "st-crane"])
    assert human.exit_code == 0, human.output
    assert "2 copies from 2 outlet(s): Daily Local, Example News, 2 revision(s)" in human.stdout
    assert "edit 1 (version fetched 2026-11-20 10:00, replaced " in human.stdout
    assert "title: Harbour crane [-collapses-] {+collapses, two injured+}" in human.stdout
    assert "     + The port authority opened an inquiry." in human.stdout
    found = CliRunner().invoke(cli, ["search", "--revisions", "hurt", "--json"])
    assert found.exit_code == 0, found.output
    listed = json.loads(found.stdout)["revisions"]
    assert [(r["article_id"], r["revision"]) for r in listed] == [(FIRST.id, 1)]
