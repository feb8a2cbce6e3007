"""Story clustering: near-duplicate copies of one story (syndicated, re-headlined, trimmed) share a story_id.

Pure part: a MinHash signature over word shingles of title + text (`story_signature`: the number of
shingles, then NUM_PERM minimum hashes) and its LSH band keys (`story_bands`). An article whose text
is longer than its lead also gets a second MinHash, of its lead: the title, the feed's summary and
the first LEAD_WORDS words of the body, appended to the same signature (so stored signatures stay
one array). A summary-only copy (a title and a short summary, as a summary-only feed carries the
story) is compared with that lead: its few shingles are a large share of the lead, where they were
a tiny share of the whole text, too small for the MinHash estimate to see. Lead band keys carry an
"L" prefix, so leads are candidates of leads only. Two articles are the same
story when the estimated share of the shorter text's shingles found in the other (containment) is at
or over `EnrichSettings.story_threshold`: a trimmed copy keeps most of its shingles in the original even
when it dropped paragraphs, while the plain Jaccard similarity falls with every dropped paragraph. The
set sizes come from the signature's first value; the Jaccard estimate must also reach MIN_JACCARD, since
a containment derived from a tiny Jaccard estimate is mostly noise.

State: earlier articles' signatures and bands are stored in their Elasticsearch documents, so matching
works across workers, cycles and restarts: `ElasticsearchCandidates` finds earlier articles sharing a
band key (a terms query on `story_bands`) within `story_window_days`; `assign_stories` picks the most
similar one, or starts a new story whose id is the article's own id. Copies within one batch are
clustered too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import elasticsearch
import numpy as np

from enrich.name_resolution import COPY_FIELDS, resolve_from_copy, story_names
from newsflow.core.es import translate_errors
from newsflow.core.models import Article, format_utc, parse_utc
from newsflow.core.settings import Settings

NUM_PERM = 128  # hash functions: the standard error of the Jaccard estimate is about 0.04
BANDS = 64  # 64 bands of 2 rows: pairs at Jaccard 0.3 share a band with probability > 0.99
ROWS = NUM_PERM // BANDS
SHINGLE_WORDS = 3
MIN_JACCARD = 0.1  # below this the containment estimate is too noisy to trust
MIN_SHINGLES = 6  # a text of under ~8 words ("Live updates", "Daily briefing") is no evidence of a copy
MAX_WORDS = 5_000  # the start of a long text is enough to recognise a copy
LEAD_WORDS = 50  # body words in the lead: a summary is the story's first sentences, or a dek beside them
LEAD_PREFIX = "L"  # band keys of the lead signature
SHORT_TEXT_SHINGLES = 150  # a text up to ~150 words (a summary, a teaser) may match another's lead
_PART = NUM_PERM + 1  # one MinHash: the set size, then NUM_PERM values

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
# Fixed seeds: signatures must be comparable across processes, versions and machines.
_rng = np.random.RandomState(20261126)
_A = _rng.randint(1, 1 << 31, size=NUM_PERM, dtype=np.uint64)
_B = _rng.randint(0, 1 << 31, size=NUM_PERM, dtype=np.uint64)
_WORD = re.compile(r"\w+", re.UNICODE)


def story_text(article: Article) -> str:
    return f"{article.title}\n{article.body or article.summary}"


def shingles(text: str) -> set[str]:
    words = _WORD.findall(text.lower())[:MAX_WORDS]
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def _hash32(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=4).digest(), "little")


def minhash(items: Iterable[str]) -> tuple[int, ...]:
    """(set size, then NUM_PERM MinHash values below 2**32) of a set of strings; () for an empty set."""
    hashes = np.fromiter((_hash32(s) for s in set(items)), dtype=np.uint64)
    if hashes.size == 0:
        return ()
    # (a*x + b) mod p with x, a < 2**32 and 2**31: no uint64 overflow.
    permuted = ((hashes[:, None] * _A[None, :] + _B[None, :]) % _MERSENNE) & _MAX_HASH
    return (int(hashes.size), *(int(v) for v in permuted.min(axis=0)))


def lead_text(article: Article) -> str:
    """The title, the feed's summary when the item has a body beside it, and the body's first
    LEAD_WORDS words: what a summary-only copy of the story can contain."""
    if not article.body:
        return story_text(article)
    lead = " ".join(article.body.split()[:LEAD_WORDS])
    return "\n".join(part for part in (article.title, article.summary, lead) if part)


def story_signature(article: Article) -> tuple[int, ...]:
    """MinHash over word 3-shingles of the title and text (body, else summary), then, when the lead's
    shingles are not the whole text's, the MinHash of the lead's (`lead_text`). Pure."""
    whole = shingles(story_text(article))
    signature = minhash(whole)
    if not signature:
        return ()
    lead = shingles(lead_text(article))
    return signature if lead == whole or not lead else (*signature, *minhash(lead))


def _whole(signature: Sequence[int]) -> Sequence[int]:
    return signature[:_PART] if len(signature) in (_PART, 2 * _PART) else ()


def _lead(signature: Sequence[int]) -> Sequence[int]:
    """The lead's MinHash; a text no longer than its lead is its own lead (and signatures stored
    before leads existed have none, so they are their own lead too)."""
    if len(signature) == 2 * _PART:
        return signature[_PART:]
    return signature if len(signature) == _PART else ()


def _band_keys(values: Sequence[int], prefix: str = "") -> list[str]:
    keys = []
    for band in range(BANDS):
        rows = values[band * ROWS:(band + 1) * ROWS]
        digest = hashlib.blake2b(",".join(map(str, rows)).encode(), digest_size=6).hexdigest()
        keys.append(f"{prefix}{band:02d}-{digest}")
    return keys


def story_bands(signature: Sequence[int]) -> tuple[str, ...]:
    """LSH band keys: "<band>-<hash of its rows>" of the whole text, then "L<band>-..." of the lead;
    two signatures sharing a key are candidates. Pure."""
    whole, lead = _whole(signature), _lead(signature)
    if not whole:
        return ()
    return (*_band_keys(whole[1:]), *_band_keys(lead[1:], LEAD_PREFIX))


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two single MinHashes (set size first)."""
    if len(a) != _PART or len(b) != _PART:
        return 0.0
    return sum(x == y for x, y in zip(a[1:], b[1:], strict=True)) / NUM_PERM


def containment(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated containment of the smaller shingle set in the larger (0 below MIN_JACCARD)."""
    j = jaccard(a, b)
    if j < MIN_JACCARD or min(a[0], b[0]) < MIN_SHINGLES:
        return 0.0
    # |A ∩ B| = J (|A| + |B|) / (1 + J)
    overlap = j * (a[0] + b[0]) / (1 + j)
    return min(1.0, overlap / min(a[0], b[0]))


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """How much of one story's text the other holds: the containment of the whole texts, or, when
    one of them is short (a summary-only copy is its own lead), of the leads, whichever is higher.
    Two long texts are judged on their whole texts only: a shared opening (a newsletter's greeting,
    a standard intro) does not make two stories one."""
    whole_a, whole_b = _whole(a), _whole(b)
    whole = containment(whole_a, whole_b)
    if whole >= 1.0 or not whole_a or not whole_b or min(whole_a[0], whole_b[0]) > SHORT_TEXT_SHINGLES:
        return whole
    return max(whole, containment(_lead(a), _lead(b)))


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """An earlier article that may be a copy of the same story."""

    article_id: str
    story_id: str
    signature: tuple[int, ...]
    published_at: datetime
    # Its names and spellings, lent to a copy that joins it (enrich/name_resolution.py).
    names: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)


class CandidateLookup(Protocol):
    def find(self, bands: Sequence[str], since: datetime) -> list[StoryCandidate]:
        """Earlier articles sharing at least one band key, published at or after `since`."""
        ...


class ElasticsearchCandidates:
    """Candidates from the articles alias: a terms query on the keyword field story_bands."""

    max_candidates = 1_000

    def __init__(self, client: elasticsearch.Elasticsearch, settings: Settings, *,
                 ingested_before: datetime | None = None) -> None:
        """`ingested_before`: only articles fetched before then. A cycle passes its start, since its
        own articles are candidates in memory (StoryAssigner) and looking them up again is waste."""
        self._client = client
        self._settings = settings
        self._index = settings.index_name("articles")
        self._ingested_before = ingested_before

    def find(self, bands: Sequence[str], since: datetime) -> list[StoryCandidate]:
        if not bands:
            return []
        query = {"bool": {"filter": [
            {"terms": {"story_bands": list(dict.fromkeys(bands))}},
            {"range": {"published_at": {"gte": format_utc(since)}}},
            {"exists": {"field": "story_id"}},
        ]}}
        if self._ingested_before is not None:
            before = format_utc(self._ingested_before)
            query["bool"]["filter"].append({"range": {"ingested_at": {"lt": before}}})
        with translate_errors(self._settings.es_url_redacted):
            try:
                response = self._client.search(
                    index=self._index, query=query, size=self.max_candidates,
                    source_includes=["story_id", "story_signature", "published_at", *COPY_FIELDS],
                    sort=[{"published_at": "asc"}], ignore_unavailable=True, allow_no_indices=True,
                )
            except elasticsearch.NotFoundError:
                return []  # no articles index yet: nothing to match
        return [_candidate(hit) for hit in response["hits"]["hits"]]


def _candidate(hit: dict[str, Any]) -> StoryCandidate:
    source = hit["_source"]
    return StoryCandidate(
        article_id=hit["_id"], story_id=source["story_id"],
        signature=tuple(int(v) for v in source.get("story_signature") or ()),
        published_at=parse_utc(source["published_at"]),
        names={f: tuple(source.get(f) or ()) for f in COPY_FIELDS},
    )


def assign_stories(
    articles: Sequence[Article], candidates: CandidateLookup, settings: Settings, *, chunk_size: int = 100
) -> list[Article]:
    """Articles (in input order) with story_signature, story_bands and story_id set.

    The story of the most similar earlier copy (in Elasticsearch or earlier in this batch, within the
    time window) at or over the threshold; else a new story with the article's own id.
    """
    return StoryAssigner(candidates, settings, chunk_size=chunk_size).assign(articles)


class StoryAssigner:
    """Assigns stories to one cycle's articles, batch after batch.

    The articles of earlier batches stay candidates for later ones in memory: once indexed they are
    in Elasticsearch too, but a search sees them only after the next refresh, and a copy in the next
    batch must not start a story of its own meanwhile.
    """

    def __init__(self, candidates: CandidateLookup, settings: Settings, *, chunk_size: int = 100,
                 merged: Mapping[str, str] | None = None) -> None:
        """`merged`: story id -> the story it was merged into since (`story_merges`, applied by the
        alert matching of earlier batches; read at each `assign`), so a later copy of a merged story
        joins the story it became."""
        self._candidates = candidates
        self._merged: Mapping[str, str] = merged if merged is not None else {}
        self._threshold = settings.enrich.story_threshold
        self._window = timedelta(days=settings.enrich.story_window_days)
        self._chunk_size = chunk_size
        # Articles assigned so far by band key: only those sharing a band can be copies, so each
        # article is compared with a few candidates instead of all of them (O(n) instead of O(n²)).
        self._seen_by_band: dict[str, list[StoryCandidate]] = defaultdict(list)

    def assign(self, articles: Sequence[Article]) -> list[Article]:
        """Articles (in input order) with story_signature, story_bands and story_id set. A signature
        the enricher computed already is kept (it is a pure function of the same text)."""
        signed = [
            a if a.story_bands else dataclasses.replace(a, story_signature=sig, story_bands=story_bands(sig))
            for a, sig in ((a, a.story_signature if a.story_bands else story_signature(a)) for a in articles)
        ]
        order = sorted(range(len(signed)), key=lambda i: signed[i].published_at)
        stored: dict[int, list[StoryCandidate]] = {}
        for start in range(0, len(order), self._chunk_size):
            chunk = order[start:start + self._chunk_size]
            bands = [band for i in chunk for band in signed[i].story_bands]
            since = min(signed[i].published_at for i in chunk) - self._window
            found = self._candidates.find(bands, since) if bands else []
            # Each candidate's band keys once, not once per article of the chunk it is checked against.
            banded = [(c, frozenset(story_bands(c.signature))) for c in found]
            for i in chunk:
                own = signed[i].story_bands
                stored[i] = [c for c, keys in banded if c.article_id != signed[i].id
                             and not keys.isdisjoint(own)]

        results = list(signed)
        for i in order:
            article = signed[i]
            earlier = {c.article_id: c for band in article.story_bands
                       for c in self._seen_by_band.get(band, ()) if c.article_id != article.id}
            best: StoryCandidate | None = None
            best_score = self._threshold
            for candidate in [*stored.get(i, []), *earlier.values()]:
                if abs(candidate.published_at - article.published_at) > self._window:
                    continue
                score = similarity(article.story_signature, candidate.signature)
                if score > best_score or (score == best_score and best is None):
                    best, best_score = candidate, score
            story_id = self._current(best.story_id) if best is not None else article.id
            article = results[i] = dataclasses.replace(article, story_id=story_id)
            if best is not None:  # "Putin", "NSC" in a summary copy: the full names of its story
                article = results[i] = resolve_from_copy(article, best.names)
            if article.story_signature:
                candidate = StoryCandidate(article.id, story_id, article.story_signature,
                                           article.published_at, story_names(article))
                for band in article.story_bands:
                    self._seen_by_band[band].append(candidate)
        return results

    def _current(self, story_id: str) -> str:
        """The story `story_id` became through merges (itself when never merged)."""
        seen = {story_id}
        while (into := self._merged.get(story_id)) is not None and into not in seen:
            seen.add(into)
            story_id = into
        return story_id


@dataclass(frozen=True, slots=True)
class StoryMerge:
    """A story founded without seeing a copy that another process clustered at the same moment
    (two shards of one run, each with a copy of one new story): it joins that copy's story."""

    story_id: str  # the founder's story (its own article id), merged away
    into: str  # the story it joins: that of the most similar copy of another story
    # Every story of the copies found, `story_id` and `into` among them (sorted): the ids under
    # which the story's alerts may already be recorded.
    stories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FounderCopies:
    """The copies of a founder's story found in Elasticsearch: (article id, story id when found),
    most similar first."""

    story_id: str  # the founder's story: its own article id
    copies: tuple[tuple[str, str], ...]


def similar_copies(founders: Sequence[Article], found: Sequence[StoryCandidate],
                   settings: Settings) -> list[FounderCopies]:
    """For each founder (an article whose story is its own id) with copies among `found` (articles
    in Elasticsearch sharing a band key), those copies: within the time window and at or over the
    threshold, as `assign_stories` judges them, most similar first (ties in the order found). Pure."""
    threshold = settings.enrich.story_threshold
    window = timedelta(days=settings.enrich.story_window_days)
    banded = [(c, frozenset(story_bands(c.signature))) for c in found]
    result: list[FounderCopies] = []
    for founder in founders:
        if founder.story_id != founder.id or not founder.story_signature:
            continue
        own = frozenset(founder.story_bands)
        scored: list[tuple[float, int, StoryCandidate]] = []
        for order, (candidate, keys) in enumerate(banded):
            if candidate.article_id == founder.id or keys.isdisjoint(own):
                continue
            if abs(candidate.published_at - founder.published_at) > window:
                continue
            score = similarity(founder.story_signature, candidate.signature)
            if score >= threshold:
                scored.append((-score, order, candidate))
        if scored:
            result.append(FounderCopies(founder.story_id, tuple(
                (c.article_id, c.story_id) for _, _, c in sorted(scored, key=lambda t: t[:2]))))
    return result


def story_merges(copies: Sequence[FounderCopies], current: Mapping[str, str]) -> dict[str, StoryMerge]:
    """Founder story id -> its merge: into the story the most similar copy of another story has now
    (`current`: article id -> its story id as last written; a copy not in it keeps the story it was
    found with). A founder whose copies are all of its own story by now (another process merged them
    into it) keeps its story. Merges that lead on to a merged story go to where that one goes; a
    cycle (two founders each finding a copy of the other) ends in its smallest story id. Pure."""
    direct: dict[str, str] = {}
    seen: dict[str, set[str]] = {}
    for entry in copies:
        stories = {entry.story_id}
        into = ""
        for article_id, found_in in entry.copies:
            now = current.get(article_id, found_in)
            stories.update((found_in, now))
            if not into and now != entry.story_id:
                into = now
        if into:
            direct[entry.story_id] = into
            seen[entry.story_id] = stories
    merges: dict[str, StoryMerge] = {}
    for story, into in direct.items():
        path = [story]
        while into in direct and into not in path:
            path.append(into)
            into = direct[into]
        if into in path:  # a cycle: its smallest story is where all of it goes
            into = min(path[path.index(into):])
        if into != story:
            merges[story] = StoryMerge(story, into, tuple(sorted(seen[story] | {into})))
    return merges
