"""One story, one alert, when its copies were clustered by two processes at the same moment.

A process clusters its articles against what Elasticsearch held when it looked, plus its own batch
(enrich.stories). Two copies of one new story fetched by two concurrent processes (the news_ingest
DAG's shards) do not see each other there, so each founds a story of its own, and a rule would alert
once per copy. `StoryRecheck` closes that gap where it matters, at recording time:

- After a group is indexed, `find` looks each founder of the group (an article whose story is
  its own id) up again by its band keys, with no "ingested before" bound, after a refresh, and
  keeps the copies that clustering would have joined (enrich.stories.similar_copies: the same
  similarity, threshold and window). Each process indexes before it looks, so of two concurrent
  processes the later to look sees the other's copies. Looking reads only, outside the lock.
- `merge` runs under the prefix's recording lock (newsflow.alerts.lock), before anything is
  recorded: it reads the current story of those copies in real time (another process may have
  merged them since, into ours or elsewhere) and a founder with a copy of another story joins the
  story that copy has now (enrich.stories.story_merges). The founder's story id is rewritten on
  every article carrying it (update by query, refreshed), and the group's alerts move with it.
- The alert is then recorded once: a record whose story merged is a duplicate when the same rule
  has a record under any story the merge saw (realtime mget, newsflow.alerts.records.merged_records).
  So when the first process already recorded (and delivered) its alert under its own story, the
  other joins that story and finds the record; when each saw the other's copy, the first to take
  the lock joins the other's story and the second finds its copy in its own story already (no swap).

`merged` (story id -> the story it joined) is kept for the run's later groups: a later copy of a
merged story joins the story it became (enrich.stories.StoryAssigner).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from elasticsearch import Elasticsearch

from newsflow.core.es import translate_errors
from newsflow.core.models import Article, format_utc, parse_utc
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from enrich.stories import FounderCopies, StoryCandidate, StoryMerge

log = logging.getLogger(__name__)

_CHUNK = 100  # founders per candidate search, as enrich.stories.StoryAssigner looks them up
_MAX_CANDIDATES = 1_000  # per search, as enrich.stories.ElasticsearchCandidates
_MGET = 1_000  # copies per realtime read of their current story

# Each article carrying a merged story id gets the story it joined.
_MERGE_SCRIPT = "ctx._source.story_id = params.into[ctx._source.story_id]"


def founders(articles: Sequence[Article]) -> list[Article]:
    """The articles that started a story of their own (story id = article id) and have band keys. Pure."""
    return [a for a in articles if a.story_id == a.id and a.story_bands]


class StoryRecheck:
    """Re-checks one run's founders against every copy Elasticsearch holds now (see the module
    docstring): `find` (before taking the recording lock), then `merge` (under it). Not thread-safe."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._index = settings.index_name("articles")
        self.merged: dict[str, str] = {}  # story id -> the story it joined, over the run

    def find(self, articles: Sequence[Article]) -> list[FounderCopies]:
        """The copies of other articles in Elasticsearch similar to each founder among `articles`
        (refreshed first: the other processes' copies indexed since become visible). Reads only:
        run it before taking the lock, so the shards search at the same time."""
        from enrich.stories import similar_copies  # numpy: only when used

        started = [self._current(a) for a in founders(articles)]
        if not started:
            return []
        with translate_errors(self._settings.es_url_redacted):
            self._client.options(ignore_status=404).indices.refresh(index=self._index)
        window = timedelta(days=self._settings.enrich.story_window_days)
        found: dict[str, StoryCandidate] = {}
        for start in range(0, len(started), _CHUNK):
            chunk = started[start:start + _CHUNK]
            since = min(a.published_at for a in chunk) - window
            for candidate in self._search(chunk, since):
                found.setdefault(candidate.article_id, candidate)
        return similar_copies(started, list(found.values()), self._settings)

    def merge(self, copies: Sequence[FounderCopies]) -> dict[str, StoryMerge]:
        """Under the recording lock: each founder with a copy of another story joins the story that
        copy has now (read in real time: a process that recorded since may have merged it, or
        merged it into ours); written to Elasticsearch. Founder story id -> its merge."""
        from enrich.stories import story_merges

        if not copies:
            return {}
        ids = list(dict.fromkeys(article_id for entry in copies for article_id, _ in entry.copies))
        current: dict[str, str] = {}
        with translate_errors(self._settings.es_url_redacted):
            for start in range(0, len(ids), _MGET):
                response = self._client.mget(index=self._index, ids=ids[start:start + _MGET],
                                             source_includes=["story_id"])
                current.update((doc["_id"], doc["_source"]["story_id"]) for doc in response["docs"]
                               if doc.get("found") and doc["_source"].get("story_id"))
        merges = story_merges(copies, current)
        if merges:
            self._write(merges)
            self.merged.update((story, merge.into) for story, merge in merges.items())
            log.info("stories: %d stories founded at the same moment as a copy of them elsewhere "
                     "merged into that copy's story", len(merges))
        return merges

    def _search(self, chunk: Sequence[Article], since: datetime) -> list[StoryCandidate]:
        from enrich.stories import StoryCandidate

        query = {"bool": {
            "filter": [
                {"terms": {"story_bands": list(dict.fromkeys(b for a in chunk for b in a.story_bands))}},
                {"range": {"published_at": {"gte": format_utc(since)}}},
                {"exists": {"field": "story_id"}},
            ],
            "must_not": [{"ids": {"values": [a.id for a in chunk]}}],  # the founders themselves
        }}
        with translate_errors(self._settings.es_url_redacted):
            response = self._client.options(ignore_status=404).search(
                index=self._index, query=query, size=_MAX_CANDIDATES,
                source_includes=["story_id", "story_signature", "published_at"],
                sort=[{"published_at": "asc"}], ignore_unavailable=True, allow_no_indices=True)
        hits = (response.get("hits") or {}).get("hits") or []
        return [StoryCandidate(article_id=hit["_id"], story_id=hit["_source"]["story_id"],
                               signature=tuple(int(v) for v in hit["_source"].get("story_signature") or ()),
                               published_at=parse_utc(hit["_source"]["published_at"]))
                for hit in hits]

    def _current(self, article: Article) -> Article:
        """The founder as it is now: a founder merged in an earlier group of this run (a retry of
        its match) is no founder any more."""
        into = self.merged.get(article.story_id)
        return article if into is None else replace(article, story_id=into)

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
