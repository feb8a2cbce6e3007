"""A story's timeline: every copy of one story (articles sharing a `story_id`), in first-seen order,
with what changed from each copy to the next (title edits, paragraphs added, removed or edited).

newsflow keeps no separate first-seen time: an article's `published_at` falls back to its fetch time
and is never in the future, so copies are ordered by `published_at`, then `ingested_at` (when that
version was fetched), then URL.

Each copy also lists its revisions: the earlier versions of that same article that were replaced
when its content changed (newsflow/index/revisions.py), oldest first, each with what the next version
changed from it (the same diff as between copies).

`story_request`, `build_timeline` and `revision_history` (with the diffs) are pure; `story_timeline`
runs the searches.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.errors import StoryNotFound
from newsflow.core.settings import Settings
from newsflow.index.bounded import bounded_search
from newsflow.index.revisions import Revision, revisions_of

MAX_COPIES = 1000
COPY_FIELDS: tuple[str, ...] = (
    "title", "summary", "body", "url", "source", "feed_url", "credit", "distributor", "authors",
    "published_at", "ingested_at",
)
# Two paragraphs at least this similar (difflib ratio over their words) are one paragraph edited,
# not one removed and another added.
EDITED_PARAGRAPH_RATIO = 0.5
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True, slots=True)
class StoryCopy:
    id: str
    title: str
    summary: str
    body: str
    url: str
    source: str  # the outlet (publisher name)
    feed_url: str
    credit: tuple[str, ...]  # the outlet that originally wrote it, from its credit lines
    distributor: tuple[str, ...]  # the agency that distributed it
    authors: tuple[str, ...]
    published_at: str  # ISO 8601 UTC, as stored
    ingested_at: str  # ISO 8601 UTC: when this version was fetched

    @classmethod
    def from_hit(cls, hit: Mapping[str, Any]) -> StoryCopy:
        source = hit.get("_source") or {}
        return cls(
            id=str(hit["_id"]), title=source.get("title") or "", summary=source.get("summary") or "",
            body=source.get("body") or "", url=source.get("url") or "", source=source.get("source") or "",
            feed_url=source.get("feed_url") or "", credit=tuple(source.get("credit") or ()),
            distributor=tuple(source.get("distributor") or ()), authors=tuple(source.get("authors") or ()),
            published_at=source.get("published_at") or "", ingested_at=source.get("ingested_at") or "",
        )


@dataclass(frozen=True, slots=True)
class TextEdit:
    before: str
    after: str
    diff: str  # word diff: "[-removed-]{+added+}" around the changed words (as `git diff --word-diff`)

    def to_json(self) -> dict[str, str]:
        return {"from": self.before, "to": self.after, "diff": self.diff}


@dataclass(frozen=True, slots=True)
class Changes:
    """What a copy changed from the copy before it."""

    title: TextEdit | None  # None: the same title
    summary_changed: bool
    added: tuple[str, ...]  # paragraphs new in this copy
    removed: tuple[str, ...]  # paragraphs of the previous copy that this one lacks
    edited: tuple[TextEdit, ...]  # paragraphs reworded

    @property
    def identical(self) -> bool:
        return (self.title is None and not self.summary_changed and not self.added and not self.removed
                and not self.edited)

    def to_json(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "title": self.title.to_json() if self.title is not None else None,
            "summary_changed": self.summary_changed,
            "paragraphs_added": list(self.added),
            "paragraphs_removed": list(self.removed),
            "paragraphs_edited": [edit.to_json() for edit in self.edited],
        }


@dataclass(frozen=True, slots=True)
class RevisionEntry:
    """An earlier version of a copy, and what the version after it changed."""

    revision: Revision
    changes: Changes  # from this version to the next one (a later revision or the copy as it is)

    def to_json(self) -> dict[str, Any]:
        r = self.revision
        return {"id": r.id, "revision": r.number, "title": r.title, "ingested_at": r.ingested_at,
                "replaced_at": r.replaced_at, "content_hash": r.content_hash,
                "paragraphs": len(paragraphs(r.body)), "changes": self.changes.to_json()}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    copy: StoryCopy
    changes: Changes | None  # None for the first copy
    revisions: tuple[RevisionEntry, ...] = ()  # this copy's earlier versions, oldest first

    def to_json(self) -> dict[str, Any]:
        c = self.copy
        return {
            "id": c.id, "title": c.title, "url": c.url, "source": c.source, "feed_url": c.feed_url,
            "credit": list(c.credit), "distributor": list(c.distributor), "authors": list(c.authors),
            "published_at": c.published_at, "ingested_at": c.ingested_at,
            "paragraphs": len(paragraphs(c.body)),
            "changes": self.changes.to_json() if self.changes is not None else None,
            "revisions": [entry.to_json() for entry in self.revisions],
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    story_id: str
    entries: tuple[TimelineEntry, ...]
    total: int  # copies indexed (more than len(entries) past MAX_COPIES)

    @property
    def outlets(self) -> tuple[str, ...]:
        """The outlets that carried the story, in the order they did."""
        return tuple(dict.fromkeys(e.copy.source for e in self.entries if e.copy.source))

    def to_json(self) -> dict[str, Any]:
        """The `story --json` object."""
        return {
            "story_id": self.story_id,
            "copies": self.total,
            "outlets": list(self.outlets),
            "revisions": sum(len(e.revisions) for e in self.entries),
            "first_seen": self.entries[0].copy.published_at if self.entries else None,
            "last_seen": self.entries[-1].copy.published_at if self.entries else None,
            "timeline": [entry.to_json() for entry in self.entries],
        }


def paragraphs(body: str) -> list[str]:
    """A body's paragraphs (separated by a blank line), each with its whitespace collapsed."""
    return [" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(body) if part.strip()]


def word_diff(before: str, after: str, context: int | None = None) -> str:
    """`after` with the words changed from `before` marked `[-old-]` and `{+new+}`; with `context`,
    unchanged runs are cut to that many words either side of a change ("…" for the rest)."""
    old, new = before.split(), after.split()
    out: list[str] = []
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for number, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same = new[j1:j2]
            if context is not None and len(opcodes) > 1:
                head = context if number else 0  # words kept after the change before this run
                tail = context if number < len(opcodes) - 1 else 0  # before the change after it
                if len(same) > head + tail:
                    same = [*same[:head], "…", *same[len(same) - tail:]]
            out.extend(same)
            continue
        if i2 > i1:
            out.append("[-" + " ".join(old[i1:i2]) + "-]")
        if j2 > j1:
            out.append("{+" + " ".join(new[j1:j2]) + "+}")
    return " ".join(out)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


def compare(previous: StoryCopy, current: StoryCopy) -> Changes:
    """What `current` changed from `previous`: pure."""
    title = None
    if " ".join(previous.title.split()) != " ".join(current.title.split()):
        title = TextEdit(previous.title, current.title, word_diff(previous.title, current.title))
    old, new = paragraphs(previous.body), paragraphs(current.body)
    added: list[str] = []
    removed: list[str] = []
    edited: list[TextEdit] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        gone, came = old[i1:i2], new[j1:j2]
        # Pair reworded paragraphs in order; whatever is left over was removed or added.
        while gone and came and _similarity(gone[0], came[0]) >= EDITED_PARAGRAPH_RATIO:
            edited.append(TextEdit(gone[0], came[0], word_diff(gone[0], came[0])))
            gone, came = gone[1:], came[1:]
        removed.extend(gone)
        added.extend(came)
    summary_changed = " ".join(previous.summary.split()) != " ".join(current.summary.split())
    return Changes(title=title, summary_changed=summary_changed, added=tuple(added), removed=tuple(removed),
                   edited=tuple(edited))


def revision_history(copy: StoryCopy, revisions: Sequence[Revision]) -> tuple[RevisionEntry, ...]:
    """A copy's earlier versions (oldest first), each compared with the version after it: pure."""
    ordered = sorted(revisions, key=lambda r: r.number)
    versions = [replace(copy, title=r.title, summary=r.summary, body=r.body, ingested_at=r.ingested_at)
                for r in ordered]
    return tuple(
        RevisionEntry(revision, compare(versions[i], versions[i + 1] if i + 1 < len(versions) else copy))
        for i, revision in enumerate(ordered)
    )


def build_timeline(story_id: str, copies: Sequence[StoryCopy], total: int | None = None,
                   revisions: Mapping[str, Sequence[Revision]] | None = None) -> Timeline:
    """The timeline of copies already in first-seen order: each compared with the one before, with
    its revisions (`revisions`: article id -> its earlier versions)."""
    kept = revisions or {}
    entries = tuple(
        TimelineEntry(copy, compare(copies[i - 1], copy) if i else None,
                      revision_history(copy, kept.get(copy.id, ())))
        for i, copy in enumerate(copies)
    )
    return Timeline(story_id=story_id, entries=entries, total=len(copies) if total is None else total)


def story_request(story_id: str, size: int = MAX_COPIES) -> dict[str, Any]:
    """The search for a story's copies, first seen first: pure."""
    return {
        "query": {"bool": {"filter": [{"term": {"story_id": story_id}}]}},
        "sort": [{"published_at": "asc"}, {"ingested_at": {"order": "asc", "missing": "_last"}},
                 {"url": "asc"}],
        "size": size,
        "track_total_hits": True,
        "source_includes": list(COPY_FIELDS),
    }


def story_timeline(client: Elasticsearch, settings: Settings, story_id: str) -> Timeline:
    """Every copy of the story (up to MAX_COPIES), first seen first, with what each changed.

    Raises StoryNotFound when no article has the story id."""
    body = bounded_search(client, settings, f"story_id:{story_id}", **story_request(story_id))
    hits = body["hits"]["hits"]
    if not hits:
        raise StoryNotFound(story_id)
    copies = [StoryCopy.from_hit(hit) for hit in hits]
    kept = revisions_of(client, settings, [copy.id for copy in copies])
    return build_timeline(story_id, copies, total=int(body["hits"]["total"]["value"]), revisions=kept)
