"""Story clustering: MinHash signatures, pair quality on corpus-built pairs, and state in Elasticsearch."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from enrich.stories import (
    BANDS,
    LEAD_PREFIX,
    LEAD_WORDS,
    NUM_PERM,
    ElasticsearchCandidates,
    StoryAssigner,
    StoryCandidate,
    assign_stories,
    lead_text,
    similarity,
    story_bands,
    story_signature,
)
from newsflow.core.errors import ElasticsearchUnavailable
from newsflow.index.mappings import ANALYSIS, article_mappings
from tests.enrich.story_pairs import (
    different_story_pairs,
    edited_copy,
    lead_summary,
    long_articles,
    publisher_summary_articles,
    same_story_pairs,
    summary_copy_pairs,
    summary_different_story_pairs,
    summary_only_copy,
    syndicated_summary_copy,
)

# Measured on 60 + 60 pairs (see the report): precision 1.0, recall 1.0. Floors a little below.
MIN_PAIR_PRECISION = 0.95
MIN_PAIR_RECALL = 0.95
# Summary-only copies against full texts (120 + 162 pairs): measured recall 1.0 at precision 1.0
# (12 of 120 before leads were compared). The issue asks for >= 0.9 at precision 1.0.
MIN_SUMMARY_RECALL = 0.9

pytestmark = pytest.mark.corpus


class NothingStored:
    """A CandidateLookup for a first cycle: no earlier articles anywhere."""

    def find(self, bands: Any, since: Any) -> list[StoryCandidate]:
        return []


def same_story(a: Any, b: Any, threshold: float) -> bool:
    sig_a, sig_b = story_signature(a), story_signature(b)
    candidates = set(story_bands(sig_a)) & set(story_bands(sig_b))  # LSH must bring them together
    return bool(candidates) and similarity(sig_a, sig_b) >= threshold


def test_signatures_are_deterministic_and_banded() -> None:
    article = long_articles(limit=1)[0]
    signature = story_signature(article)
    assert signature == story_signature(dataclasses.replace(article, id="other"))
    # The whole text's MinHash (set size, NUM_PERM values), then its lead's.
    whole, lead = signature[:NUM_PERM + 1], signature[NUM_PERM + 1:]
    assert len(whole) == len(lead) == NUM_PERM + 1
    assert all(0 <= v < 2**32 for v in (*whole[1:], *lead[1:]))
    assert lead[0] < whole[0]  # the lead has fewer shingles than the whole text
    bands = story_bands(signature)
    assert len(bands) == 2 * BANDS
    assert [b.startswith(LEAD_PREFIX) for b in bands] == [False] * BANDS + [True] * BANDS


def test_a_text_no_longer_than_its_lead_is_its_own_lead() -> None:
    article = long_articles(limit=1)[0]
    summary_only = dataclasses.replace(article, body="", summary=lead_summary(article.body))
    signature = story_signature(summary_only)
    assert len(signature) == NUM_PERM + 1
    bands = story_bands(signature)
    assert bands[BANDS:] == tuple(LEAD_PREFIX + b for b in bands[:BANDS])  # its lead bands are its own


def test_the_lead_is_the_title_the_feed_summary_and_the_first_words_of_the_body() -> None:
    article = publisher_summary_articles(limit=1)[0]
    lead = lead_text(article)
    assert lead.startswith(f"{article.title}\n{article.summary}\n")
    assert lead.endswith(" ".join(article.body.split()[:LEAD_WORDS]))
    assert lead_text(dataclasses.replace(article, body="")) == f"{article.title}\n{article.summary}"


def test_an_empty_article_has_no_signature_and_no_bands() -> None:
    article = dataclasses.replace(long_articles(limit=1)[0], title="", body="", summary="")
    assert story_signature(article) == ()
    assert story_bands(()) == ()


def test_a_few_identical_words_do_not_make_one_story(offline_settings: Any) -> None:
    first, second = long_articles(limit=2)
    briefings = [dataclasses.replace(a, title="Live updates: the daily briefing", body="", summary="")
                 for a in (first, second)]
    result = assign_stories(briefings, NothingStored(), offline_settings)
    assert [a.story_id for a in result] == [first.id, second.id]


def test_pairs_of_copies_and_of_different_stories_on_one_subject(offline_settings: Any) -> None:
    threshold = offline_settings.enrich.story_threshold
    same = same_story_pairs()
    different = different_story_pairs()
    assert len(same) >= 50 and len(different) >= 50
    found_same = sum(same_story(a, b, threshold) for a, b in same)
    found_different = sum(same_story(a, b, threshold) for a, b in different)
    precision = found_same / (found_same + found_different)
    recall = found_same / len(same)
    print(f"story pairs: precision={precision:.3f} recall={recall:.3f} "
          f"({found_same}/{len(same)} copies, {found_different}/{len(different)} different joined)")
    assert precision >= MIN_PAIR_PRECISION
    assert recall >= MIN_PAIR_RECALL


def test_summary_only_copies_join_their_full_text_story(offline_settings: Any) -> None:
    # Publisher summaries (the item as a summary-only feed carries it) and syndicated leads (another
    # outlet's headline and first sentences), against different stories on one subject with one side
    # summary-only. Before leads were compared, 12 of these 120 copies joined their story.
    threshold = offline_settings.enrich.story_threshold
    copies = summary_copy_pairs()
    different = summary_different_story_pairs()
    assert len(copies) >= 100 and len(different) >= 100
    found_same = sum(same_story(a, b, threshold) for a, b in copies)
    found_different = sum(same_story(a, b, threshold) for a, b in different)
    precision = found_same / (found_same + found_different) if found_same else 0.0
    recall = found_same / len(copies)
    print(f"summary-only pairs: precision={precision:.3f} recall={recall:.3f} "
          f"({found_same}/{len(copies)} copies, {found_different}/{len(different)} different joined)")
    assert found_different == 0
    assert recall >= MIN_SUMMARY_RECALL


def test_a_summary_only_copy_seen_first_gives_the_full_text_its_story(offline_settings: Any) -> None:
    full = long_articles(limit=1)[0]
    early_summary = dataclasses.replace(syndicated_summary_copy(full, 1),
                                        published_at=full.published_at - timedelta(hours=1))
    result = assign_stories([full, early_summary], NothingStored(), offline_settings)
    assert [a.story_id for a in result] == [early_summary.id, early_summary.id]


def test_two_long_stories_with_one_opening_are_not_one_story(offline_settings: Any) -> None:
    # A newsletter's greeting or a standard intro opens every item of some feeds: the leads are
    # alike, the stories are not. Leads count only when one side is short.
    first, second = long_articles(limit=2)
    opening = " ".join(lead_summary(long_articles(limit=3)[2].body, max_words=60).split()[:LEAD_WORDS])
    same_opening = [dataclasses.replace(a, body=f"{opening}\n\n{a.body}", summary="")
                    for a in (first, second)]
    sig_first, sig_second = (story_signature(a) for a in same_opening)
    assert set(story_bands(sig_first)) & set(story_bands(sig_second))  # the leads make them candidates
    assert similarity(sig_first, sig_second) < offline_settings.enrich.story_threshold
    result = assign_stories(same_opening, NothingStored(), offline_settings)
    assert [a.story_id for a in result] == [first.id, second.id]


def test_a_signature_stored_before_leads_existed_still_matches(offline_settings: Any) -> None:
    original = long_articles(limit=1)[0]
    stored_long_ago = story_signature(original)[:NUM_PERM + 1]  # whole text only, as stored then
    copy = story_signature(edited_copy(original, 1))
    assert set(story_bands(stored_long_ago)) & set(story_bands(copy))
    assert similarity(stored_long_ago, copy) >= offline_settings.enrich.story_threshold


def test_copies_within_one_batch_share_the_story_of_the_earliest(offline_settings: Any) -> None:
    original, other = long_articles(limit=2)
    copies = [edited_copy(original, 1), edited_copy(original, 2)]
    result = assign_stories([copies[1], other, original, copies[0]], NothingStored(), offline_settings)
    assert [a.story_id for a in result] == [original.id, other.id, original.id, original.id]
    assert all(a.story_signature and a.story_bands for a in result)


def test_a_copy_in_a_later_group_of_one_cycle_joins_the_story_without_elasticsearch(
        offline_settings: Any) -> None:
    # A cycle indexes group after group; the earlier groups are not searchable until a refresh.
    original, other = long_articles(limit=2)
    assigner = StoryAssigner(NothingStored(), offline_settings)
    first_group = assigner.assign([original, other])
    [copy] = assigner.assign([edited_copy(original, 1)])
    assert [a.story_id for a in first_group] == [original.id, other.id]
    assert copy.story_id == original.id


def test_a_signature_the_enricher_computed_is_used_as_it_is(offline_settings: Any) -> None:
    article = long_articles(limit=1)[0]
    signature = story_signature(article)
    signed = dataclasses.replace(article, story_signature=signature, story_bands=story_bands(signature))
    [result] = assign_stories([signed], NothingStored(), offline_settings)
    assert result.story_signature is signature  # not computed again


class Earlier:
    """A CandidateLookup that finds the same earlier articles for any bands."""

    def __init__(self, candidates: list[StoryCandidate]) -> None:
        self.candidates = candidates

    def find(self, bands: Any, since: Any) -> list[StoryCandidate]:
        return list(self.candidates)


def test_a_stored_candidates_band_keys_are_computed_once_per_lookup(
        offline_settings: Any, monkeypatch: Any) -> None:
    import enrich.stories

    original, other, third = long_articles(limit=3)
    earlier = StoryCandidate("earlier", "story-1", story_signature(original),
                             original.published_at - timedelta(hours=1))
    copies = [dataclasses.replace(edited_copy(original, n), id=f"copy-{n}") for n in range(3)]
    signed = [dataclasses.replace(a, story_signature=s, story_bands=story_bands(s))
              for a, s in ((a, story_signature(a)) for a in [*copies, other, third])]
    computed: list[tuple[int, ...]] = []

    def counting(signature: Any) -> tuple[str, ...]:
        computed.append(tuple(signature))
        return story_bands(signature)

    monkeypatch.setattr(enrich.stories, "story_bands", counting)
    results = StoryAssigner(Earlier([earlier]), offline_settings).assign(signed)
    assert [a.story_id for a in results] == ["story-1"] * 3 + [other.id, third.id]
    assert computed.count(earlier.signature) == 1  # not once per article of the chunk


def _create_articles_index(es_client: Any, settings: Any) -> None:
    es_client.indices.create(
        index=settings.index_name("articles-000001"), mappings=article_mappings(),
        settings={"analysis": ANALYSIS}, aliases={settings.index_name("articles"): {"is_write_index": True}},
    )


def _index(es_client: Any, settings: Any, articles: Any) -> None:
    for article in articles:
        es_client.index(index=settings.index_name("articles"), id=article.id, document=article.to_document())
    es_client.indices.refresh(index=settings.index_name("articles"))


@pytest.mark.es
def test_copies_in_a_later_cycle_find_the_story_stored_in_elasticsearch(
    es_client: Any, settings: Any
) -> None:
    _create_articles_index(es_client, settings)
    originals = long_articles(limit=4)
    first_cycle = assign_stories(originals, ElasticsearchCandidates(es_client, settings), settings)
    assert [a.story_id for a in first_cycle] == [a.id for a in originals]
    _index(es_client, settings, first_cycle)

    # A later cycle, a new worker: only Elasticsearch knows the earlier stories.
    copies = [edited_copy(a, i) for i, a in enumerate(originals[:3])]
    unrelated = long_articles(limit=8)[6]
    lookup = ElasticsearchCandidates(es_client, settings)
    second_cycle = assign_stories([*copies, unrelated], lookup, settings)
    assert [a.story_id for a in second_cycle] == [a.id for a in originals[:3]] + [unrelated.id]


@pytest.mark.es
def test_a_summary_only_copy_in_a_later_cycle_finds_its_full_text_in_elasticsearch(
    es_client: Any, settings: Any
) -> None:
    _create_articles_index(es_client, settings)
    full_texts = list(publisher_summary_articles(limit=3))
    _index(es_client, settings, assign_stories(full_texts, NothingStored(), settings))

    # A later cycle reads the summary-only feeds: only the lead bands stored in Elasticsearch can
    # bring the short items to their stories.
    summaries = [summary_only_copy(full_texts[0], 0), syndicated_summary_copy(full_texts[1], 1)]
    other_story = long_articles(limit=5)[4]
    assert other_story.url not in {a.url for a in full_texts}
    unrelated = syndicated_summary_copy(other_story, 2)
    lookup = ElasticsearchCandidates(es_client, settings)
    later = assign_stories([*summaries, unrelated], lookup, settings)
    assert [a.story_id for a in later] == [full_texts[0].id, full_texts[1].id, unrelated.id]
    stored = es_client.get(index=settings.index_name("articles"), id=full_texts[0].id)["_source"]
    assert any(band.startswith(LEAD_PREFIX) for band in stored["story_bands"])


@pytest.mark.es
def test_a_lookup_for_one_cycle_leaves_out_the_articles_that_cycle_fetched(
        es_client: Any, settings: Any) -> None:
    _create_articles_index(es_client, settings)
    earlier, this_cycle = long_articles(limit=2)
    fetched_now = this_cycle.ingested_at
    earlier = dataclasses.replace(earlier, ingested_at=fetched_now - timedelta(hours=1))
    _index(es_client, settings, assign_stories([earlier, this_cycle], NothingStored(), settings))
    copies = [edited_copy(earlier, 1), edited_copy(this_cycle, 1)]
    everything = ElasticsearchCandidates(es_client, settings)
    before_cycle = ElasticsearchCandidates(es_client, settings, ingested_before=fetched_now)
    since = fetched_now - timedelta(days=365 * 30)

    def found(lookup: ElasticsearchCandidates) -> set[str]:
        bands = [band for copy in copies for band in story_bands(story_signature(copy))]
        return {c.article_id for c in lookup.find(bands, since)}

    assert found(everything) == {earlier.id, this_cycle.id}
    assert found(before_cycle) == {earlier.id}


@pytest.mark.es
def test_a_copy_outside_the_time_window_starts_a_new_story(es_client: Any, settings: Any) -> None:
    _create_articles_index(es_client, settings)
    original = long_articles(limit=1)[0]
    _index(es_client, settings, assign_stories([original], NothingStored(), settings))
    late = dataclasses.replace(
        edited_copy(original, 1),
        published_at=original.published_at + timedelta(days=settings.enrich.story_window_days + 1),
    )
    [result] = assign_stories([late], ElasticsearchCandidates(es_client, settings), settings)
    assert result.story_id == late.id


def test_no_articles_index_yet_means_no_candidates(settings: Any, es_client: Any) -> None:
    candidates = ElasticsearchCandidates(es_client, settings)
    assert candidates.find(["00-abc"], long_articles(limit=1)[0].published_at) == []


def test_an_unreachable_elasticsearch_is_reported_not_swallowed(offline_settings: Any) -> None:
    from newsflow.core.es import make_client

    client = make_client(offline_settings, max_retries=0)
    with pytest.raises(ElasticsearchUnavailable):
        lookup = ElasticsearchCandidates(client, offline_settings)
        assign_stories(long_articles(limit=1), lookup, offline_settings)
