"""The feeds file: YAML or OPML 1.0/2.0 (detected by content), into FeedSpecs.

YAML:
    feeds:
      - url: https://example.com/world.xml   # http(s)://, file:// or a local path
        name: Example World                  # optional: defaults to the feed's own title
        language: en                         # optional: for items that declare none
        tags: [world, politics]              # optional
        poll_interval: 15m                   # optional: seconds, or a number with s/m/h/d/w
        auth:                                # optional: HTTP Basic auth, password by reference
          username: reader
          password_env: WORLD_FEED_PASSWORD  # the environment variable holding the password
        headers:                             # optional: header values by reference only
          X-Api-Key: {env: WORLD_FEED_KEY}
      - https://example.com/short-form.xml   # a bare URL is fine too

Credentials written in a URL (`https://user:pass@host/feed`) are moved out of it into the spec's
`auth`, so the URL that is logged, stored and shown carries none. Secrets are sent only to the
feed's own origin (see ingest/fetch.py).

OPML: every `outline` with an `xmlUrl` (`title`/`text` become the name; `language` and
`category` (comma-separated) are read when present; nested outlines add their folder's title as a tag).

Local paths are resolved against the feeds file's folder and kept absolute. The same URL listed
twice is kept once (the first). Problems raise FeedsFileError naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.parsers import expat

import yaml

from ingest.types import FeedAuth, FeedHeader, FeedSpec
from newsflow.core.durations import parse_seconds
from newsflow.core.errors import DurationError, FeedsFileError

_KNOWN_KEYS = frozenset({"url", "name", "language", "tags", "poll_interval", "auth", "headers"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")  # an HTTP token
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
# Headers the HTTP client owns: a feeds file setting them would break requests, not authenticate.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te",
                               "upgrade", "accept-encoding", "if-none-match", "if-modified-since"})


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
        return _lower_scheme(value, scheme)
    if scheme == "file":
        return _lower_scheme(value, scheme)
    if len(scheme) > 1:  # ftp:, javascript:, ... (a one-letter "scheme" is a Windows drive)
        raise ValueError(f"unsupported URL scheme {scheme!r} in {value!r}: use http(s)://, file:// or a path")
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (folder / path).resolve())


def _lower_scheme(value: str, scheme: str) -> str:
    # HTTP://host and http://host are one feed (one key); fetch compares schemes in any case anyway.
    return scheme + value[len(scheme):]


def split_credentials(url: str) -> tuple[str, FeedAuth | None]:
    """The URL without its user-info, and the credentials it carried (percent-decoded), if any.

    `https://reader:s%40cret@host:8443/feed` -> (`https://host:8443/feed`, FeedAuth("reader", "s@cret")).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, FeedAuth(username=unquote(username), password=unquote(password))


# --- YAML ----------------------------------------------------------------------------------------

# libyaml's parser when PyYAML was built with it: the pure-Python one took ~1 s for a feeds file of
# 10,000 feeds here, every cycle.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

def _load_yaml(path: Path, raw: bytes) -> list[FeedSpec]:
    try:
        root = yaml.compose(raw.decode("utf-8-sig"), Loader=_LOADER)
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
        url, auth = split_credentials(_location(path, node.value, _line(node)))
        return FeedSpec(url=url, auth=auth)
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
    url, auth = split_credentials(_location(path, _scalar(path, fields["url"], "url"),
                                            _line(fields["url"]), folder))
    if "auth" in fields:
        if auth is not None:
            raise FeedsFileError(str(path), "credentials both in the URL and in 'auth:': keep one "
                                 "(preferably 'auth:' with password_env)", _line(fields["auth"]))
        auth = _auth(path, fields["auth"])
    headers = _headers(path, fields["headers"]) if "headers" in fields else ()
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
        except yaml.YAMLError as exc:  # e.g. a tag the safe loader refuses (!!python/...)
            raise FeedsFileError(str(path), f"poll_interval: {exc}", _line(interval_node)) from exc
        try:
            interval = parse_seconds(value, "poll_interval")
        except DurationError as exc:
            raise FeedsFileError(str(path), str(exc), _line(interval_node)) from exc
    return FeedSpec(
        url=url,
        name=_scalar(path, fields["name"], "name") if "name" in fields else "",
        language=_scalar(path, fields["language"], "language") if "language" in fields else "",
        tags=tags,
        poll_interval=interval,
        auth=auth,
        headers=headers,
    )


def _mapping(path: Path, node: yaml.Node, key: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise FeedsFileError(str(path), f"'{key}' must be a mapping", _line(node))
    return list(node.value)


def _env_name(path: Path, node: yaml.Node, key: str) -> str:
    name = _scalar(path, node, key)
    if not _ENV_NAME.match(name):
        raise FeedsFileError(str(path), f"'{key}' must name an environment variable (letters, digits, "
                             f"'_'), not {name[:40]!r}", _line(node))
    return name


def _auth(path: Path, node: yaml.Node) -> FeedAuth:
    """`auth: {username: NAME, password_env: VARIABLE}`: the password itself never in the file."""
    fields = {k.value: (k, v) for k, v in _mapping(path, node, "auth")}
    for key, (key_node, _) in fields.items():
        if key == "password":
            raise FeedsFileError(str(path), "a password is not written in the feeds file: put it in an "
                                 "environment variable and give its name as 'password_env:'", _line(key_node))
        if key not in ("username", "password_env"):
            raise FeedsFileError(str(path), f"unknown key {key!r} in 'auth' (known: password_env, "
                                 "username)", _line(key_node))
    if "username" not in fields or "password_env" not in fields:
        raise FeedsFileError(str(path), "'auth' needs both 'username' and 'password_env'", _line(node))
    return FeedAuth(username=_scalar(path, fields["username"][1], "auth.username"),
                    password_env=_env_name(path, fields["password_env"][1], "auth.password_env"))


def _headers(path: Path, node: yaml.Node) -> tuple[FeedHeader, ...]:
    """`headers: {Name: {env: VARIABLE}}`: values are secrets, so only by reference."""
    headers: list[FeedHeader] = []
    for name_node, value_node in _mapping(path, node, "headers"):
        name = str(name_node.value).strip()
        if not _HEADER_NAME.match(name):
            raise FeedsFileError(str(path), f"{name[:40]!r} is not a valid header name", _line(name_node))
        if name.lower() in _RESERVED_HEADERS:
            raise FeedsFileError(str(path), f"header {name!r} is set by newsflow itself", _line(name_node))
        if not isinstance(value_node, yaml.MappingNode):
            raise FeedsFileError(str(path), f"header {name!r}: give its value by reference, as "
                                 f"'{name}: {{env: VARIABLE}}' (header values are secrets)",
                                 _line(value_node))
        entries = {k.value: v for k, v in value_node.value}
        if set(entries) != {"env"}:
            raise FeedsFileError(str(path), f"header {name!r}: expected exactly {{env: VARIABLE}}",
                                 _line(value_node))
        headers.append(FeedHeader(name=name, env=_env_name(path, entries["env"], f"headers.{name}.env")))
    return tuple(headers)


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
        url, auth = split_credentials(_location(path, xml_url, line))
        specs.append(FeedSpec(url=url, name=title, auth=auth,
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
