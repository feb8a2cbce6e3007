"""Apprise URLs (the target of an `apprise:` channel), read by apprise itself.

`load_service` turns a URL into apprise's plugin for its service (Slack, Teams workflows, ntfy, …)
or raises InvalidAppriseUrl naming the problem as apprise reported it. `private_url` is the URL as it
may be shown: apprise's own privacy form (`URLBase.url(privacy=True)`, which knows which parts of
each service's URL are tokens or passwords), with the masked parts written `***` and only the query
parameters the user gave. `secret_pieces` are the parts of a URL that its private form hides; they
are scrubbed from apprise's and urllib3's log lines (`install_log_scrubbing`), which quote URLs,
payloads and errors.

apprise is imported on first use: loading its ~190 service plugins takes about half a second.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from newsflow.core.errors import InvalidAppriseUrl

if TYPE_CHECKING:
    from apprise import AppriseAsset, NotifyBase

MASK = "***"
APP_ID = "newsflow"
# The loggers that quote what a service is sent: apprise's own (payloads, URLs, errors) and
# urllib3's request lines ("POST /workflows/…?sig=… HTTP/1.1").
SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# The pieces of a URL a secret can be: between these separators.
_PIECE_SPLIT = re.compile(r"[/?&=#@:,;\s]+")
# apprise's privacy forms of a private value: "T...2" (outer), "...abcd" (tail), "****" (secret).
_PRIVATE_FORM = re.compile(r"^(?:.?\.\.\..{0,4}|\*{3,})$")
_MIN_PIECE = 3  # shorter pieces ("en", "1") are too common in log text to be masked usefully
# Pieces of a native URL (https://hooks.slack.com/services/…) that are never secrets but would
# blot out every log line if masked.
_PUBLIC_WORDS = frozenset({"http", "https", "www", "services", "api", "webhooks", "hooks"})
_HOST_NAME = re.compile(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20})+")


@lru_cache(maxsize=1)
def asset() -> AppriseAsset:
    """The apprise asset newsflow sends with: its own name (Slack's footer, the User-Agent) and no
    files written (apprise's persistent store kept in memory)."""
    from apprise import AppriseAsset

    return AppriseAsset(app_id=APP_ID, app_desc="newsflow alerts", storage_mode="memory")


def scheme_of(url: str) -> str:
    match = _SCHEME.match(url.strip())
    return match.group(1).lower() if match else ""


def shown_when_invalid(url: str) -> str:
    """How a URL apprise cannot read is shown: its scheme only (any other part may be a token)."""
    scheme = scheme_of(url)
    return f"apprise:{scheme}://{MASK}" if scheme else f"apprise:{MASK}"


def load_service(url: str) -> NotifyBase:
    """Apprise's plugin for `url`, or InvalidAppriseUrl with what apprise said was wrong."""
    import apprise
    from apprise.plugins import N_MGR

    url = url.strip()
    shown = shown_when_invalid(url)
    scheme = scheme_of(url)
    if not scheme:
        raise InvalidAppriseUrl(shown, "not a service URL: write SERVICE://…, e.g. "
                                "slack://TokenA/TokenB/TokenC, workflows://HOST/WORKFLOW/SIGNATURE or "
                                "ntfys://ntfy.sh/TOPIC")
    if scheme not in N_MGR and scheme not in ("http", "https"):
        raise InvalidAppriseUrl(shown, f"apprise {apprise.__version__} has no service {scheme}:// "
                                "(`apprise --details` lists the services it has)")
    pieces = _pieces(url)
    with _scrubbing(pieces), _collected() as said:
        try:
            service = apprise.Apprise.instantiate(url, asset=asset(), suppress_exceptions=False)
        except Exception as exc:  # a plugin's constructor refusing its arguments
            problem = _scrub(str(exc), pieces) or type(exc).__name__
            raise InvalidAppriseUrl(shown, f"apprise cannot use it: {problem}") from exc
    if service is None:
        if scheme in N_MGR and not N_MGR[scheme].enabled:
            raise InvalidAppriseUrl(shown, f"the {N_MGR[scheme].service_name} service is disabled on "
                                    "this system (a package it needs is missing, or it only notifies "
                                    "a local desktop)")
        detail = "; ".join(_scrub(message, pieces) for message in said) or "it cannot be parsed"
        raise InvalidAppriseUrl(shown, f"apprise cannot use it: {detail}")
    register_secrets(secret_pieces(url, service))
    return service


def private_url(url: str) -> str:
    """The URL as it may be shown, or InvalidAppriseUrl. Pure apart from apprise's parsing."""
    return _private_url(url.strip())


@lru_cache(maxsize=4096)
def _private_url(url: str) -> str:
    return _private_form(url, load_service(url))


def _private_form(url: str, service: NotifyBase) -> str:
    private = str(service.url(privacy=True))  # type: ignore[no-untyped-call]  # untyped in apprise
    base, _, query = private.partition("?")
    given = {name.lower() for name, _ in _query_pairs(url.partition("?")[2])}
    scheme, sep, rest = base.partition("://")
    segments = rest.split("/")
    host = segments[0].rpartition("@")[2].partition(":")[0].lower()
    cloud_topics = scheme.startswith("ntfy") and (
        getattr(service, "mode", "") == "cloud" or host == "ntfy.sh")
    masked = [_mask_userinfo(segments[0])]
    for segment in segments[1:]:
        # On the public ntfy.sh server a topic name is its only protection: a secret too.
        secret = (cloud_topics and segment) or _is_private(unquote(segment))
        masked.append(MASK if secret else segment)
    pairs = []
    for name, value in _query_pairs(query):
        if name.lower() not in given:
            continue  # apprise lists every default ("image=yes&…"): only what the user wrote
        secret = name.startswith("+") or _is_private(value) or _looks_secret(name, value)
        pairs.append(f"{quote(name, safe=':+-')}={MASK if secret else quote(value, safe='')}")
    shown = re.sub(r"//+$", "/", scheme + sep + "/".join(masked))  # "slack://…/***//": no empty tail
    return f"{shown}?{'&'.join(pairs)}" if pairs else shown


def secret_pieces(url: str, service: NotifyBase | None = None) -> frozenset[str]:
    """The pieces of `url` (raw and percent-decoded) that its private form does not show."""
    if service is None:
        service = load_service(url)
    shown = set(_pieces(_private_form(url, service)))
    return frozenset(piece for piece in _pieces(url) if piece not in shown
                     and piece.lower() not in _PUBLIC_WORDS and not _HOST_NAME.fullmatch(piece.lower()))


def scrub(text: str, url: str) -> str:
    """`text` with the secret pieces of apprise URL `url` masked."""
    try:
        pieces = secret_pieces(url)
    except InvalidAppriseUrl:
        pieces = frozenset(_pieces(url))
    return _scrub(text, pieces)


def _mask_userinfo(netloc: str) -> str:
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return MASK if _is_private(netloc) else netloc
    user, colon, _ = userinfo.partition(":")
    user = MASK if _is_private(user) else user
    return f"{user}{colon}{MASK if colon else ''}@{host}"


def _is_private(value: str) -> bool:
    return bool(value) and bool(_PRIVATE_FORM.match(value))


def _looks_secret(name: str, value: str) -> bool:
    from newsflow.core.redact import is_secret_param, looks_like_token

    return is_secret_param(name) or looks_like_token(value)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """`a=1&+Header=v`: names and values percent-decoded, a `+` kept (apprise's header prefix)."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _pieces(url: str) -> list[str]:
    """The parts of a URL a secret may be: the pieces between separators of everything but the
    query parameters' names, raw and percent-decoded."""
    base, _, query = url.partition("?")
    parts = [base] + [value for _, value in _query_pairs(query)]
    parts += [part.partition("=")[2] for part in query.split("&")]  # raw values as well
    found: set[str] = set()
    for part in parts:
        for piece in _PIECE_SPLIT.split(part):
            for form in {piece, unquote(piece), unquote(piece.replace("+", " "))}:
                found.update(sub for sub in [form, *_PIECE_SPLIT.split(form)] if len(sub) >= _MIN_PIECE)
    scheme = scheme_of(url)
    found.discard(scheme)
    return sorted(found, key=len, reverse=True)


def _scrub(text: str, pieces: frozenset[str] | list[str]) -> str:
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, MASK)
    return text


# The secret pieces of every apprise URL this process has read, for the log filter.
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_ordered: list[str] = []


def register_secrets(pieces: frozenset[str] | list[str]) -> None:
    global _ordered
    with _secrets_lock:
        if not set(pieces) - _secrets:
            return
        _secrets.update(pieces)
        _ordered = sorted(_secrets, key=len, reverse=True)


@contextmanager
def _scrubbing(pieces: list[str]) -> Iterator[None]:
    """While a URL is parsed nothing is known of it yet: every piece of it is scrubbed meanwhile
    (apprise's parse errors quote the token they refuse)."""
    install_log_scrubbing()
    _parsing.pieces = pieces
    try:
        yield
    finally:
        _parsing.pieces = []


_parsing = threading.local()


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _collected() -> Iterator[list[str]]:
    """The warnings and errors apprise logs meanwhile (why it refused a URL): they become the
    InvalidAppriseUrl's message, so they are not logged as well."""
    handler = _Collected()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler.messages
    finally:
        logger.propagate = propagate
        logger.removeHandler(handler)


class ScrubAppriseSecrets(logging.Filter):
    """Masks the secret pieces of apprise URLs in the records of apprise's and urllib3's loggers.

    apprise logs each service's payload, request URL and errors (at DEBUG and WARNING); urllib3 logs
    every request line with its query ("…?sig=<Teams signature>"). The message is formatted here and
    scrubbed, so no handler (a file, the console, pytest's capture) sees a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        pieces = list(getattr(_parsing, "pieces", None) or ()) + _ordered
        if not pieces:
            return True
        message = record.getMessage()
        scrubbed = _scrub(message, pieces)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


def install_log_scrubbing() -> None:
    """Add ScrubAppriseSecrets to apprise's and urllib3's loggers (once; idempotent)."""
    for name in SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubAppriseSecrets) for f in logger.filters):
            logger.addFilter(ScrubAppriseSecrets())
