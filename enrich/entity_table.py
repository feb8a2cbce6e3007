"""The entity table: one entry per known entity (stable id, canonical name, facet, spellings, and
for places the coordinates), from the curated entries of enrich/data/entities.yaml and the generated
gazetteer enrich/data/gazetteer.json (tools/build_gazetteer.py: pycountry and GeoNames).

Pure data and lookups, no model. Loading costs a JSON parse of the gazetteer (about 30 ms, measured
in docs/enrich.md) and happens once per process, before the NER workers are forked.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from newsflow.core.errors import EnrichError

Facet = Literal["persons", "organizations", "locations"]
FACETS: tuple[Facet, ...] = ("persons", "organizations", "locations")
Kind = Literal["curated", "country", "subdivision", "city"]

DEFAULT_GAZETTEER_FILE = Path(str(resources.files("enrich") / "data" / "gazetteer.json"))  # package data

_SPACES = re.compile(r"\s+")
_SLUG = re.compile(r"[^a-z0-9]+")


def normalise_spelling(text: str) -> str:
    """The form spellings are compared in: single spaces, straight apostrophes."""
    return _SPACES.sub(" ", text.replace("’", "'")).strip()


def slug(text: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _SLUG.sub("-", folded.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class KnownEntity:
    """One entity of the table."""

    id: str  # stable: "newsflow:persons/volodymyr-zelensky", "iso3166:UA", "geonames:703448"
    name: str  # the canonical name, the facet value
    facet: Facet
    kind: Kind
    # Whether the entry overrides the model's label: curated entries, countries and major places
    # (capitals, cities of a million, subdivisions of large federal countries). A minor place
    # ("Reading", "Jackson") is used only when the model itself tags the mention a place.
    overrides_label: bool
    spellings: tuple[str, ...]  # every known spelling, the canonical name first
    qid: str = ""  # Wikidata item, where known
    lat: float | None = None
    lon: float | None = None


GazetteerRow = list[Any]  # [id, name, kind, major, lat, lon, [other spellings]] (gazetteer.json)


def _place(row: GazetteerRow) -> KnownEntity:
    entry_id, name, kind, major, lat, lon, others = row
    return KnownEntity(id=entry_id, name=name, facet="locations", kind=kind, overrides_label=bool(major),
                       spellings=(name, *others), lat=lat, lon=lon)


class EntityTable:
    """Spelling -> entity. Curated entries are built when the table is; the ~9,000 gazetteer places
    stay rows until a text names one (building them all took longer than reading the file)."""

    def __init__(self, curated: Mapping[str, KnownEntity], rows: Mapping[str, GazetteerRow],
                 curated_ids: frozenset[str], n_rows: int) -> None:
        self._curated = curated  # spelling -> curated entry
        self._rows = rows  # spelling -> gazetteer row
        self._curated_ids = curated_ids  # gazetteer ids a curated entry replaces
        self._places: dict[str, KnownEntity] = {}
        self._n_rows = n_rows

    def lookup(self, text: str) -> KnownEntity | None:
        entry = self._curated.get(text)
        if entry is not None:
            return entry
        row = self._rows.get(text)
        if row is None:
            return None
        place = self._places.get(row[0])
        if place is None:
            place = self._places[row[0]] = _place(row)
        return place

    def curated_spellings(self) -> list[tuple[str, KnownEntity]]:
        """Every (spelling, entry) of the curated entries (not the gazetteer's places)."""
        return list(self._curated.items())

    def __len__(self) -> int:
        """The number of entities: curated entries plus the gazetteer places none of them curates."""
        return len({e.id for e in self._curated.values()}) + self._n_rows - len(self._curated_ids)

    @classmethod
    def build(cls, curated: Mapping[str, Any], gazetteer: Iterable[GazetteerRow]) -> EntityTable:
        """Curated entries (the `entities:` mapping of entities.yaml) over the gazetteer rows: a curated
        location named like a gazetteer place (or naming it with `place:`) curates that place."""
        rows = list(gazetteer)
        by_id = {row[0]: row for row in rows}
        by_name: dict[str, GazetteerRow] = {}
        for row in rows:
            by_name.setdefault(row[1], row)
        by_spelling: dict[str, KnownEntity] = {}
        replaced: set[str] = set()
        for facet, table in (curated or {}).items():
            if facet not in FACETS:
                raise EnrichError(f"entity table: unknown facet {facet!r} under entities (use {FACETS})")
            for name, spec in (table or {}).items():
                entry, place_id = _curated_entry(facet, str(name), spec, by_id, by_name)
                if place_id:
                    replaced.add(place_id)
                for spelling in entry.spellings:
                    by_spelling.setdefault(normalise_spelling(spelling), entry)
        row_by_spelling: dict[str, GazetteerRow] = {}
        for row in rows:
            if row[0] in replaced:
                continue
            for spelling in (row[1], *row[6]):
                if spelling not in by_spelling:  # curated entries win a shared spelling
                    row_by_spelling.setdefault(spelling, row)
        return cls(by_spelling, row_by_spelling, frozenset(replaced), len(rows))


def _curated_entry(facet: Facet, name: str, spec: Any, by_id: Mapping[str, GazetteerRow],
                   by_name: Mapping[str, GazetteerRow]) -> tuple[KnownEntity, str]:
    """The entry of one curated name, and the id of the gazetteer place it curates ("" if none)."""
    if spec is None or isinstance(spec, list):
        spec = {"aliases": spec or []}
    if not isinstance(spec, Mapping):
        raise EnrichError(f"entity table: {facet}/{name}: expected a list of spellings or a mapping")
    aliases = [str(a) for a in spec.get("aliases") or []]
    row = None
    if facet == "locations":
        ref = spec.get("place")
        row = by_id.get(str(ref)) if ref else by_name.get(name)
        if ref and row is None:
            raise EnrichError(f"entity table: locations/{name}: no gazetteer entry {ref!r} "
                              "(rebuild it with tools/build_gazetteer.py, or fix the id)")
    place = _place(row) if row is not None else None
    spellings = [name, *aliases, *(place.spellings if place else ())]
    entry = KnownEntity(
        id=str(spec.get("id") or (place.id if place else f"newsflow:{facet}/{slug(name)}")),
        name=name, facet=facet, kind="curated", overrides_label=True,
        spellings=tuple(dict.fromkeys(spellings)), qid=str(spec.get("qid") or ""),
        lat=place.lat if place else None, lon=place.lon if place else None,
    )
    return entry, place.id if place else ""


def load_gazetteer(path: str | Path = DEFAULT_GAZETTEER_FILE) -> list[GazetteerRow]:
    """The generated gazetteer's rows (see tools/build_gazetteer.py for the format)."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))["entries"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EnrichError(f"cannot read the gazetteer {path}: {exc} (rebuild it with "
                          "tools/build_gazetteer.py)") from exc
    if not isinstance(rows, list) or any(not isinstance(r, list) or len(r) != 7 for r in rows):
        raise EnrichError(f"gazetteer {path}: entries are not [id, name, kind, major, lat, lon, "
                          "[spellings]] rows (rebuild it with tools/build_gazetteer.py)")
    return rows
