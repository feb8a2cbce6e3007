"""The feeds file: YAML or OPML 1.0/2.0 (detected by content), into FeedSpecs.

YAML:
    feeds:
      - url: https://example.com/world.xml   # http(s)://, file:// or a local path
        name: Example World                  # optional: defaults to the feed's own title
        language: en                         # optional: for items that declare none
        tags: [world, politics]              # optional
        poll_interval: 15m                   # optional: seconds, or a number with s/m/h/d
      - https://example.com/short-form.xml   # a bare URL is fine too

OPML: every `outline` with an `xmlUrl` (`title`/`text` become the name; `language` and
`category` (comma-separated) are read when present; nested outlines add their folder's title as a tag).

Local paths are resolved against the feeds file's folder and kept absolute. The same URL listed
twice is kept once (the first). Problems raise FeedsFileError naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat

import yaml

from ingest.types import FeedSpec
from newsflow.errors import FeedsFileError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_KNOWN_KEYS = frozenset({"url", "name", "language", "tags", "poll_interval"})


def load_feeds(path: Path) -> list[FeedSpec]:
    """Read a feeds file (YAML or OPML). Raises FeedsFileError(path, problem, line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeedsFileError(str(path), f"cannot read the feeds file: {exc.strerror or exc}") from exc
    text_start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    specs = _load_opml(path, raw) if text_start.startswith(b"<") else _load_yaml(path, raw)
    unique: dict[str, FeedSpec] = {}
    for spec in specs:
        unique.setdefault(spec.url, spec)
    return list(unique.values())


def resolve_location(value: str, folder: Path) -> str:
    """An http(s) or file:// URL as given; a local path made absolute against `folder`.

    Raises ValueError with the problem when the value is not usable.
    """
    value = value.strip()
    if not value:
        raise ValueError("empty feed URL")
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https"):
        if not urlsplit(value).hostname:
            raise ValueError(f"feed URL {value!r} has no host")
        return value
    if scheme == "file":
        return value
    if len(scheme) > 1:  # ftp:, javascript:, ... (a one-letter "scheme" is a Windows drive)
        raise ValueError(f"unsupported URL scheme {scheme!r} in {value!r}: use http(s)://, file:// or a path")
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (folder / path).resolve())


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like '90', '15m', '2h', '1d'."""
    if isinstance(value, bool):
        raise ValueError(f"poll_interval {value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"poll_interval {value!r} is not a duration (use seconds or e.g. 15m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"poll_interval {value!r} must be positive")
    return seconds


# --- YAML ----------------------------------------------------------------------------------------

def _load_yaml(path: Path, raw: bytes) -> list[FeedSpec]:
    try:
        root = yaml.compose(raw.decode("utf-8-sig"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise FeedsFileError(str(path), f"not UTF-8 text: {exc}") from exc
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise FeedsFileError(str(path), f"invalid YAML: {exc.problem or exc}", line) from exc
    except yaml.YAMLError as exc:
        raise FeedsFileError(str(path), f"invalid YAML: {exc}") from exc
    if root is None:
        raise FeedsFileError(str(path), "the file is empty: expected a 'feeds:' list")
    items = root
    if isinstance(root, yaml.MappingNode):
        feeds_node = next((v for k, v in root.value if k.value == "feeds"), None)
        if feeds_node is None:
            raise FeedsFileError(str(path), "no 'feeds:' key at the top level", _line(root))
        items = feeds_node
    if not isinstance(items, yaml.SequenceNode):
        raise FeedsFileError(str(path), "'feeds' must be a list of feeds", _line(items))
    return [_yaml_feed(path, node) for node in items.value]


def _yaml_feed(path: Path, node: yaml.Node) -> FeedSpec:
    folder = path.parent
    if isinstance(node, yaml.ScalarNode):
        return FeedSpec(url=_location(path, node.value, _line(node)))
    if not isinstance(node, yaml.MappingNode):
        raise FeedsFileError(str(path), "a feed must be a URL or a mapping with 'url:'", _line(node))
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if key.value not in _KNOWN_KEYS:
            raise FeedsFileError(str(path), f"unknown key {key.value!r} (known: "
                                 f"{', '.join(sorted(_KNOWN_KEYS))})", _line(key))
        fields[key.value] = value
    if "url" not in fields:
        raise FeedsFileError(str(path), "feed without 'url'", _line(node))
    url = _location(path, _scalar(path, fields["url"], "url"), _line(fields["url"]), folder)
    tags_node = fields.get("tags")
    tags: tuple[str, ...] = ()
    if isinstance(tags_node, yaml.SequenceNode):
        tags = tuple(_scalar(path, t, "tags") for t in tags_node.value)
    elif tags_node is not None:
        tags = tuple(t.strip() for t in _scalar(path, tags_node, "tags").split(",") if t.strip())
    interval: float | None = None
    if "poll_interval" in fields:
        interval_node = fields["poll_interval"]
        try:
            value = yaml.safe_load(yaml.serialize(interval_node))
            interval = parse_duration(value)
        except ValueError as exc:
            raise FeedsFileError(str(path), str(exc), _line(interval_node)) from exc
    return FeedSpec(
        url=url,
        name=_scalar(path, fields["name"], "name") if "name" in fields else "",
        language=_scalar(path, fields["language"], "language") if "language" in fields else "",
        tags=tags,
        poll_interval=interval,
    )


def _scalar(path: Path, node: yaml.Node, key: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise FeedsFileError(str(path), f"'{key}' must be a single value", _line(node))
    return str(node.value).strip()


def _location(path: Path, value: str, line: int, folder: Path | None = None) -> str:
    try:
        return resolve_location(value, folder or path.parent)
    except ValueError as exc:
        raise FeedsFileError(str(path), str(exc), line) from exc


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


# --- OPML ----------------------------------------------------------------------------------------

def _load_opml(path: Path, raw: bytes) -> list[FeedSpec]:
    specs: list[FeedSpec] = []
    folders: list[str | None] = []
    parser = expat.ParserCreate()
    seen_root: list[str] = []

    def refuse_entities(*_: Any) -> None:
        # OPML needs no entity declarations; refusing them rules out expansion bombs.
        raise FeedsFileError(str(path), "entity declarations are not allowed in a feeds file",
                             parser.CurrentLineNumber)

    def start(tag: str, attrs: dict[str, str]) -> None:
        if not seen_root:
            seen_root.append(tag)
            if tag.lower() != "opml":
                raise FeedsFileError(str(path), f"expected an <opml> document, found <{tag}>",
                                     parser.CurrentLineNumber)
        if tag.lower() != "outline":
            return
        line = parser.CurrentLineNumber
        xml_url = attrs.get("xmlUrl") or attrs.get("xmlurl") or ""
        title = (attrs.get("title") or attrs.get("text") or "").strip()
        if not xml_url:
            folders.append(title or None)
            return
        folders.append(None)
        tags = tuple(f for f in folders[:-1] if f) + tuple(
            c.strip().strip("/") for c in (attrs.get("category") or "").split(",") if c.strip().strip("/"))
        specs.append(FeedSpec(url=_location(path, xml_url, line), name=title,
                              language=(attrs.get("language") or "").strip(), tags=tags))

    def end(tag: str) -> None:
        if tag.lower() == "outline" and folders:
            folders.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = refuse_entities
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        problem = f"invalid OPML: {expat.errors.messages[exc.code]}"
        raise FeedsFileError(str(path), problem, exc.lineno) from exc
    return specs
