"""One story, one alert, when its copies were clustered by two processes at the same moment.

A process clusters its articles against what Elasticsearch held when it looked, plus its own batch
(enrich.stories). Two copies of one new story fetched by two concurrent processes (the news_ingest
DAG's shards) do not see each other there, so each founds a story of its own, and a rule would alert
once per copy. `StoryRecheck` closes that gap where it matters, at recording time:

- It runs under the prefix's recording lock (newsflow.alerts.lock), after the articles were indexed
  and before their alerts are checked and recorded. Recording is serialised that way, and each
  process indexes before it records, so of two concurrent processes the second to record sees the
  first one's copies (it refreshes the articles first).
- Each founder of the group (an article whose story is its own id) is looked up again by its band
  keys, with no "ingested before" bound, and judged as clustering judges (enrich.stories.story_merges).
  A founder with a similar copy of another story joins that story: the founder's story id is
  rewritten on every article carrying it (update by query, refreshed), and the alerts of the
  group move to the story it joined.
- The alert is then recorded once: a record whose story merged is a duplicate when the same rule
  has a record under any story the merge saw (realtime mget, newsflow.alerts.records.merged_records).
  So when the first process already recorded (and delivered) its alert under its own story, the
  second one joins that story and finds the record; when both copies were indexed before either
  recorded, the first to record joins the other's story and the second finds its record there.

`merged` (story id -> the story it joined) is kept for the run's later groups: a later copy of a
merged story joins the story it became (enrich.stories.StoryAssigner).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from elasticsearch import Elasticsearch

from newsflow.core.es import translate_errors
from newsflow.core.models import Article
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from enrich.stories import StoryCandidate, StoryMerge

log = logging.getLogger(__name__)

_CHUNK = 100  # founders per candidate search, as enrich.stories.StoryAssigner looks them up

# Each article carrying a merged story id gets the story it joined.
_MERGE_SCRIPT = "ctx._source.story_id = params.into[ctx._source.story_id]"


def founders(articles: Sequence[Article]) -> list[Article]:
    """The articles that started a story of their own (story id = article id) and have band keys. Pure."""
    return [a for a in articles if a.story_id == a.id and a.story_bands]


class StoryRecheck:
    """Re-checks one run's founders against every copy Elasticsearch holds now (see the module
    docstring). Call it under the recording lock. Not thread-safe."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._index = settings.index_name("articles")
        self.merged: dict[str, str] = {}  # story id -> the story it joined, over the run

    def __call__(self, articles: Sequence[Article]) -> dict[str, StoryMerge]:
        """Merge the founders among `articles` that have a copy of another story in Elasticsearch
        into that story (written there); founder story id -> its merge."""
        from enrich.stories import ElasticsearchCandidates, story_merges  # numpy: only when used

        started = [self._current(a) for a in founders(articles)]
        if not started:
            return {}
        with translate_errors(self._settings.es_url_redacted):
            # The other processes' copies indexed since: visible to a search only once refreshed.
            self._client.options(ignore_status=404).indices.refresh(index=self._index)
        lookup = ElasticsearchCandidates(self._client, self._settings)
        window = timedelta(days=self._settings.enrich.story_window_days)
        found: dict[str, StoryCandidate] = {}
        for start in range(0, len(started), _CHUNK):
            chunk = started[start:start + _CHUNK]
            since = min(a.published_at for a in chunk) - window
            for candidate in lookup.find([band for a in chunk for band in a.story_bands], since):
                found.setdefault(candidate.article_id, candidate)
        merges = story_merges(started, list(found.values()), self._settings)
        if merges:
            self._write(merges)
            self.merged.update((story, merge.into) for story, merge in merges.items())
            log.info("stories: %d stories founded at the same moment as a copy of them elsewhere "
                     "merged into that copy's story", len(merges))
        return merges

    def _current(self, article: Article) -> Article:
        """The founder as it is now: a founder merged in an earlier group of this run (a retry of
        its match) is no founder any more."""
        into = self.merged.get(article.story_id)
        if into is None:
            return article
        return replace(article, story_id=into)

    def _write(self, merges: dict[str, StoryMerge]) -> None:
        into = {story: merge.into for story, merge in merges.items()}
        with translate_errors(self._settings.es_url_redacted):
            response = self._client.update_by_query(
                index=self._index, query={"terms": {"story_id": list(into)}},
                script={"source": _MERGE_SCRIPT, "lang": "painless", "params": {"into": into}},
                conflicts="proceed", refresh=True, slices=1, ignore_unavailable=True)
        if response.get("version_conflicts"):
            # Rewritten meanwhile (a newer copy indexed over it): that write clustered it afresh.
            log.warning("stories: %d articles changed while their merged story id was written",
                        response["version_conflicts"])
