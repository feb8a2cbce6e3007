"""Short names resolve to the full entity, in an article and from another copy of its story
(enrich/name_resolution.py). Rules only, no model."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from enrich.canonical import EntityRules, Mention, canonical_entities
from enrich.name_resolution import resolve_from_copy, story_names
from enrich.stories import ElasticsearchCandidates, StoryCandidate, assign_stories
from newsflow.core.models import Article
from newsflow.index.mappings import ANALYSIS, article_mappings
from tests.enrich.story_pairs import long_articles, syndicated_summary_copy


class NothingStored:
    """A CandidateLookup for a first cycle: no earlier articles anywhere."""

    def find(self, bands: Any, since: Any) -> list[StoryCandidate]:
        return []


def ents(*pairs: tuple[str, str]) -> list[Mention]:
    return [Mention(text, label) for text, label in pairs]


def test_a_surname_of_the_articles_own_spelling_is_the_tables_person() -> None:
    # The table knows the full spellings only; the article writes "Volodymyr Zelensky", then
    # "Zelensky": one person, under the table's canonical name.
    rules = EntityRules.from_mapping(
        {"entities": {"persons": {"Volodymyr Zelenskyy": ["Volodymyr Zelensky"]}}})
    result = canonical_entities(ents(("Volodymyr Zelensky", "PERSON"), ("Zelensky", "ORG")), rules)
    assert result.persons == ("Volodymyr Zelenskyy",)
    assert result.organizations == ()
    assert "Zelensky" in result.persons_alias


def test_a_surname_named_before_the_full_name_is_that_person() -> None:
    result = canonical_entities(ents(("Harris", "PERSON"), ("Tobias Harris", "PERSON")))
    assert result.persons == ("Tobias Harris",)


def _article(**fields: tuple[str, ...]) -> Article:
    now = datetime(2026, 2, 17, tzinfo=UTC)
    return Article(id="a", url="https://example.com/a", title="t", summary="", body="", source="s",
                   feed_url="https://example.com/feed", published_at=now, ingested_at=now, **fields)


def test_a_copy_saying_only_the_surname_takes_the_full_name_of_its_story() -> None:
    full = _article(persons=("Vladimir Putin", "Jane Marsh"), persons_alias=("Vladimir Putin", "Putin"))
    summary = _article(persons=("Marsh",), persons_alias=("Marsh",), organizations=("Putin",),
                       organizations_alias=("Putin",))
    resolved = resolve_from_copy(summary, story_names(full))
    assert resolved.persons == ("Jane Marsh", "Vladimir Putin")
    assert resolved.organizations == ()
    assert set(resolved.persons_alias) == {"Marsh", "Jane Marsh", "Putin", "Vladimir Putin"}


def test_a_copy_saying_only_the_abbreviation_takes_the_long_form_of_its_story() -> None:
    full = _article(organizations=("National Security Council",),
                    organizations_alias=("National Security Council", "NSC"))
    summary = _article(organizations=("NSC",), organizations_alias=("NSC",))
    resolved = resolve_from_copy(summary, story_names(full))
    assert resolved.organizations == ("National Security Council",)
    assert set(resolved.organizations_alias) == {"NSC", "National Security Council"}


def test_an_ambiguous_surname_or_an_unrelated_word_is_left_alone() -> None:
    full = _article(persons=("Kim Jong Un", "Kim Yo Jong", "Georgia Meloni"),
                    persons_alias=("Kim Jong Un", "Kim Yo Jong", "Georgia Meloni"))
    copy = _article(persons=("Kim",), persons_alias=("Kim",), locations=("Georgia",),
                    locations_alias=("Georgia",))
    assert resolve_from_copy(copy, story_names(full)) == copy


# --- where the story is known: story assignment lends a copy's names to the copy that joins it ---

def _named(article: Article, **fields: tuple[str, ...]) -> Article:
    return dataclasses.replace(article, **fields)


@pytest.mark.corpus
def test_a_summary_copy_in_the_same_batch_takes_the_full_names_of_its_story(offline_settings: Any) -> None:
    full = _named(long_articles(limit=1)[0], persons=("Jane Marsh",), persons_alias=("Jane Marsh",),
                  organizations=("National Security Council",),
                  organizations_alias=("National Security Council", "NSC"))
    summary = _named(syndicated_summary_copy(full, 1), persons=("Marsh",), persons_alias=("Marsh",),
                     organizations=("NSC",), organizations_alias=("NSC",))
    _, joined = assign_stories([full, summary], NothingStored(), offline_settings)
    assert joined.story_id == full.id
    assert (joined.persons, joined.organizations) == (("Jane Marsh",), ("National Security Council",))
    assert {"Marsh", "NSC"} <= {*joined.persons_alias, *joined.organizations_alias}


@pytest.mark.corpus
def test_a_different_story_lends_no_names(offline_settings: Any) -> None:
    one, other = long_articles(limit=2)
    one = _named(one, persons=("Jane Marsh",), persons_alias=("Jane Marsh",))
    other = _named(other, persons=("Marsh",), persons_alias=("Marsh",))
    _, unrelated = assign_stories([one, other], NothingStored(), offline_settings)
    assert unrelated.story_id == other.id and unrelated.persons == ("Marsh",)


@pytest.mark.corpus
@pytest.mark.es
def test_a_summary_copy_in_a_later_cycle_takes_the_names_stored_with_its_story(
    es_client: Any, settings: Any
) -> None:
    es_client.indices.create(
        index=settings.index_name("articles-000001"), mappings=article_mappings(),
        settings={"analysis": ANALYSIS}, aliases={settings.index_name("articles"): {"is_write_index": True}},
    )
    full = _named(long_articles(limit=1)[0], persons=("Jane Marsh",), persons_alias=("Jane Marsh",))
    [stored] = assign_stories([full], NothingStored(), settings)
    es_client.index(index=settings.index_name("articles"), id=stored.id, document=stored.to_document(),
                    refresh=True)
    summary = _named(syndicated_summary_copy(full, 2), persons=("Marsh",), persons_alias=("Marsh",))
    [joined] = assign_stories([summary], ElasticsearchCandidates(es_client, settings), settings)
    assert joined.story_id == full.id
    assert joined.persons == ("Jane Marsh",)
