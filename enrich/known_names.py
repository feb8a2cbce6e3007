"""Names of the curated entity table that the model missed or cut short, found in the text itself.

The model misses well-known names in headlines ("House votes to slap back Trump's tariffs") and cuts
names short at a word that is also a common word ("Theresa" of "Theresa May"). A phrase matcher over
the curated spellings of people, and the spellings in several words of organisations, adds those
mentions: where no model entity overlaps the match, or where the match contains the model's entity
(it then replaces it). A match in one word is taken in a sentence only when it is not part of a longer
run of capitalised words ("Powell Street"); in the title every word may be capitalised, so there a
person's name is taken as it stands and an organisation's not at all ("Home Office Tips").
Gazetteer places are not matched (the model finds places well, and place names are common words
more often than people's names are).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from enrich.entity_table import EntityTable

_LABELS = {"persons": "PERSON", "organizations": "ORG"}
_SENTENCE_END = frozenset({".", "!", "?", ":", ";", "\n", "\n\n", "—", "–", "-", '"', "“", "”", "(", "|"})


class KnownNameMatcher:
    """Finds the curated people (every spelling) and organisations (spellings in several words)."""

    def __init__(self, nlp: Language, table: EntityTable, title_words: Iterable[str] = ()) -> None:
        self._matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        self._title_words = frozenset(title_words)
        spellings: dict[str, list[str]] = {label: [] for label in _LABELS.values()}
        for spelling, entry in table.curated_spellings():
            label = _LABELS.get(entry.facet)
            if label is None or (label == "ORG" and " " not in spelling) or len(spelling) < 2:
                continue
            if label == "ORG" and spelling.split()[-1].islower():
                continue  # "Congress party", "Israeli military": descriptions, only as the model tags them
            spellings[label].append(spelling)
        for label, names in spellings.items():
            self._matcher.add(label, [nlp.make_doc(name) for name in sorted(set(names))])

    def spans(self, doc: Doc, ents: Sequence[Span], title_end: int) -> list[Span]:
        """`ents` with the table's names the model missed added, and those it cut short replaced."""
        found = []
        for label_id, start, end in self._matcher(doc):
            span = Span(doc, start, end, label=label_id)
            in_title = span.start_char <= title_end
            if span.label_ == "ORG" and in_title:
                continue  # "Home Office Tips" in a Title Case headline: organisations only in sentences
            if end - start == 1 and not in_title and not self._alone(doc, start):
                continue
            found.append(span)
        if not found:
            return list(ents)
        covered = [(e.start, e.end) for e in ents]
        added = []
        replaced: set[tuple[int, int]] = set()
        for span in filter_spans(found):
            inside = [c for c in covered if span.start <= c[0] and c[1] <= span.end]
            overlaps = [c for c in covered if c[0] < span.end and span.start < c[1]]
            if len(overlaps) == len(inside) and not any(c == (span.start, span.end) for c in inside):
                added.append(span)
                replaced.update(inside)
        if not added:
            return list(ents)
        kept = [e for e in ents if (e.start, e.end) not in replaced]
        return sorted([*kept, *added], key=lambda s: s.start)

    def _alone(self, doc: Doc, i: int) -> bool:
        """A one-word match not part of a longer run of capitalised words."""
        after = doc[i + 1] if i + 1 < len(doc) else None
        if after is not None and after.text[:1].isupper() and after.is_alpha:
            return False
        before = doc[i - 1] if i > 0 else None
        if before is None or not (before.text[:1].isupper() and before.is_alpha):
            return True
        if before.text in self._title_words:
            return True  # "President Trump", "Mr. Starmer"
        two_before = doc[i - 2] if i > 1 else None
        return two_before is None or two_before.text.strip() in _SENTENCE_END or two_before.is_space
