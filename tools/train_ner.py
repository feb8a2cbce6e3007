"""Fine-tune the md model's NER on the hand-annotated training sets (an experiment: see docs/enrich.md).

    PYTHONPATH=. NEWSFLOW_SHARED_DIR=/work/shared .venv/bin/python tools/train_ner.py \\
        tests/enrich/gold/gold_v2.json tests/enrich/gold/train_v3.json ... --out DIR \\
        [--dev-gold FILE] [--epochs N] [--all]

The gold sets name entities per article, not spans, so the reference spans are made from them: every
occurrence in the text NER reads (credit lines cut, as enrichment cuts them) of a gold name, of its
entity-table spellings, of a person's surname and of an organisation's initials is an entity of the
gold facet's label; the model's own PERSON and ORG spans that match no gold name are taken out (the
annotators left them out: boilerplate, products, one-off fragments); every other span of the model
(dates, numbers, places, products...) stays as it predicted, so the fine-tuned model keeps what the
gold sets do not speak of. Entries of a held-out split are never read.

A fifth of the feeds (by a hash of the feed's name) is kept back as the development set unless
`--all`; `--dev-gold FILE` writes those entries as a gold file (split "tuning") for
`python -m tests.enrich.evaluate --gold FILE`, run with `NEWSFLOW_ENRICH__SPACY_MODEL=DIR` for the
fine-tuned model and without it for the shipped one. The saved model is the whole md pipeline with
the NER weights replaced (averaged over the updates).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

TRAINING_SPLITS = {"tuning", "dev", "train"}
LABELS = {"persons": "PERSON", "organizations": "ORG", "locations": "GPE"}
PLACE_LABELS = {"GPE", "LOC", "FAC"}
DROPPED_UNMATCHED = {"PERSON", "ORG"}
DEV_FOLDS = 5


def feed_of(file: str) -> str:
    from tests.enrich.select_gold import feed_key

    return feed_key(file)


def is_dev(entry: dict[str, object]) -> bool:
    return int(hashlib.sha1(feed_of(str(entry["file"])).encode()).hexdigest(), 16) % DEV_FOLDS == 0


def read_entries(paths: Sequence[Path]) -> list[dict[str, object]]:
    entries, seen = [], set()
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        for row in data["articles"] if isinstance(data, dict) else data:
            if row.get("split") in TRAINING_SPLITS and row["url"] not in seen:
                seen.add(row["url"])
                entries.append(row)
    return entries


def _initials(name: str) -> str:
    words = [w for w in name.split() if w[:1].isupper()]
    return "".join(w[0] for w in words) if len(words) >= 2 else ""


def gold_forms(facet: str, value: str) -> set[str]:
    """The ways the article may write a gold value: the value, its table spellings, a person's
    surname, an organisation's initials."""
    from enrich.spellings import known_entity

    forms = {value}
    entry = known_entity(facet, value)
    if entry is not None:
        forms.update(entry.spellings)
        forms.add(entry.name)
    words = value.split()
    if facet == "persons" and len(words) >= 2:
        forms.add(words[-1])
        forms.add(f"{words[0]} {words[-1]}")
    if facet == "organizations":
        for form in list(forms):
            if initials := _initials(form):
                forms.add(initials)
    return {f for f in forms if len(f) >= 2}


def occurrences(text: str, forms: Iterable[str]) -> list[tuple[int, int]]:
    found = []
    for form in sorted(forms, key=len, reverse=True):
        for match in re.finditer(rf"(?<!\w){re.escape(form)}(?!\w)", text):
            found.append((match.start(), match.end()))
    return found


def reference_ents(doc: object, entry: dict[str, object],
                   dropped: frozenset[str] = frozenset(DROPPED_UNMATCHED)) -> list[tuple[int, int, str]]:
    """(start_char, end_char, label) of the reference: gold occurrences, then the model's spans
    that do not overlap them (PERSON and ORG ones only when they match a gold name). A gold name
    inside a longer span of the model ("Washington" in "Washington Post") is not an occurrence:
    the longer name stays as the model found it."""
    text: str = doc.text  # type: ignore[attr-defined]
    model = [(e.start_char, e.end_char, e.label_) for e in doc.ents]  # type: ignore[attr-defined]
    chosen: list[tuple[int, int, str]] = []
    kept_whole: set[tuple[int, int, str]] = set()

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in chosen)

    for facet, label in LABELS.items():
        for value in entry.get(facet) or []:  # type: ignore[attr-defined]
            for start, end in occurrences(text, gold_forms(facet, str(value))):
                inside = next((m for m in model
                               if m[0] <= start and end <= m[1] and (m[0], m[1]) != (start, end)), None)
                if inside is not None:
                    kept_whole.add(inside)
                    continue
                if not free(start, end):
                    continue
                if facet == "locations":  # the model's own place label where it found the place
                    label = next((lab for s, e, lab in model
                                  if s < end and start < e and lab in PLACE_LABELS), "GPE")
                chosen.append((start, end, label))
    for span in model:
        start, end, label = span
        if free(start, end) and (label not in dropped or span in kept_whole):
            chosen.append(span)
    return sorted(chosen)


def build_examples(nlp: object, entries: Sequence[dict[str, object]],
                   dropped: frozenset[str] = frozenset(DROPPED_UNMATCHED)) -> list[object]:
    from spacy.training import Example

    from enrich.credits import read_credits
    from enrich.ner import NerText, ner_input
    from tests.enrich.corpus import corpus_article

    texts = []
    for entry in entries:
        article = corpus_article(str(entry["file"]), int(str(entry["index"])))
        if article.url != entry["url"]:
            raise SystemExit(f"{entry['file']}#{entry['index']} is now {article.url}, not {entry['url']}")
        parts = ner_input(article)
        credits = read_credits(parts.text, title=parts.title)
        texts.append(NerText(credits.title, credits.text).joined)
    examples = []
    for entry, doc in zip(entries, nlp.pipe(texts), strict=True):  # type: ignore[attr-defined]
        reference = nlp.make_doc(doc.text)  # type: ignore[attr-defined]
        spans = []
        for start, end, label in reference_ents(doc, entry, dropped):
            span = reference.char_span(start, end, label=label, alignment_mode="contract")
            if span is not None and len(span):
                spans.append(span)
        kept, last = [], -1
        for span in sorted(spans, key=lambda s: (s.start, -s.end)):
            if span.start >= last:
                kept.append(span)
                last = span.end
        reference.set_ents(kept, default="outside")
        examples.append(Example(nlp.make_doc(doc.text), reference))  # type: ignore[attr-defined]
    return examples


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("gold", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="directory of the fine-tuned model")
    parser.add_argument("--dev-gold", type=Path, help="write the development entries here as a gold file")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--drop", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--drop-unmatched", default=",".join(sorted(DROPPED_UNMATCHED)),
                        help="the model's labels whose spans matching no gold name are taken out")
    parser.add_argument("--all", action="store_true", help="train on every entry (no development fifth)")
    args = parser.parse_args(argv)

    import spacy
    from spacy.util import minibatch

    from enrich.ner import EXCLUDED_COMPONENTS, model_location
    from newsflow.core.settings import load_settings

    entries = read_entries(args.gold)
    dev = [] if args.all else [e for e in entries if is_dev(e)]
    train = [e for e in entries if e not in dev]
    if args.dev_gold:
        args.dev_gold.write_text(json.dumps({"articles": [{**e, "split": "tuning"} for e in dev]}, indent=0),
                                 encoding="utf-8")
    location = model_location(load_settings())
    nlp = spacy.load(location, exclude=list(EXCLUDED_COMPONENTS))
    examples = build_examples(nlp, train, frozenset(filter(None, args.drop_unmatched.split(","))))
    print(f"{len(train)} training articles, {len(dev)} development articles "
          f"({len({feed_of(str(e['file'])) for e in dev})} feeds)", flush=True)
    random.seed(args.seed)
    spacy.util.fix_random_seed(args.seed)
    optimizer = nlp.resume_training()
    for epoch in range(args.epochs):
        random.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=8):
            nlp.update(batch, sgd=optimizer, drop=args.drop, losses=losses)
        print(f"epoch {epoch + 1}: ner loss {losses.get('ner', 0):.1f}", flush=True)
    with nlp.use_params(optimizer.averages):
        weights = nlp.get_pipe("ner").to_bytes()
    full = spacy.load(location)
    full.get_pipe("ner").from_bytes(weights)
    full.to_disk(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
