"""Derive the compact IPTC Media Topics file used at run time (enrich/data/iptc_mediatopics.json).

Run once, when the vocabulary is updated: `python -m enrich.iptc_derive SOURCE.json`. The
repository does not read the full vocabulary at run time; it reads the derived file, which keeps the
active top-level and second-level concepts (qcode, English label, definition) and, as description
words for the topic vectors, the English labels of each second-level concept's narrower concepts.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

DERIVED = Path(str(resources.files("enrich") / "data" / "iptc_mediatopics.json"))  # package data


def derive(source: dict[str, Any]) -> dict[str, Any]:
    concepts = {c["qcode"]: c for c in source["conceptSet"]}

    def active(qcode: str) -> bool:
        concept = concepts.get(qcode)
        return concept is not None and "retired" not in concept and "en-GB" in concept["prefLabel"]

    def english(concept: dict[str, Any], key: str) -> str:
        return str(concept.get(key, {}).get("en-GB", "")).strip()

    def labels_under(qcode: str, depth: int) -> list[str]:
        # Labels of every active narrower concept down to `depth` levels: description words only.
        found: list[str] = []
        for child in concepts[qcode].get("narrower", []):
            if active(child):
                found.append(english(concepts[child], "prefLabel"))
                if depth > 1:
                    found.extend(labels_under(child, depth - 1))
        return found

    topics: list[dict[str, Any]] = []
    for qcode, concept in concepts.items():
        if "broader" in concept or not active(qcode):
            continue
        topics.append({
            "qcode": qcode, "label": english(concept, "prefLabel"),
            "definition": english(concept, "definition"), "parent": None,
        })
        for child in concept.get("narrower", []):
            if active(child):
                topics.append({
                    "qcode": child, "label": english(concepts[child], "prefLabel"),
                    "definition": english(concepts[child], "definition"), "parent": qcode,
                    "narrower_labels": labels_under(child, 2),
                })
    return {
        "attribution": (
            "IPTC Media Topics NewsCodes, (c) IPTC, International Press Telecommunications Council "
            "- https://iptc.org, licensed under CC BY 4.0 (http://creativecommons.org/licenses/by/4.0/). "
            "Derived (active top-level and second-level concepts, English labels and definitions) from "
            f"the scheme {source.get('uri', '')} released {source.get('dateReleased', '')}."
        ),
        "topics": topics,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m enrich.iptc_derive cptall-x-all.json", file=sys.stderr)
        return 2
    source = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    DERIVED.write_text(json.dumps(derive(source), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {DERIVED}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
