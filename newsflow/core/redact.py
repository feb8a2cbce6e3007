"""URLs without their secrets, for everything that shows or stores a URL apart from the rule store.

Webhook URLs often are credentials: Slack's /services/T…/B…/XXXX, Discord's /api/webhooks/ID/TOKEN,
Teams' webhookb2 ids, `?token=`, `?sig=`. Feed URLs can carry `user:pass@` or `?api_key=`.
`redact_url` keeps what tells a reader where the URL goes (scheme, host, port, the ordinary path) and
masks the rest; `redact_text` scrubs one URL's secrets out of any text that may quote it (an httpx
error message does). Pure functions.
"""

from __future__ import annotations

import hashlib
import logging
import re
from urllib.parse import SplitResult, unquote, urlsplit

MASK = "***"

# Query parameters whose value is a secret, compared lower-case with "-" as "_".
SECRET_PARAMS: frozenset[str] = frozenset({
    "token", "key", "api_key", "apikey", "secret", "password", "passwd", "pwd", "sig", "signature",
    "access_token", "auth", "hmac", "code", "client_secret", "private_token", "session", "sid",
    "x_api_key", "authorization", "credential", "credentials",
})
_SECRET_SUFFIXES = ("token", "secret", "_key", "password", "signature", "_sig", "apikey")
# Path segments after one of these are the hook's credentials (Mattermost, Gitea, generic hooks).
_HOOK_SEGMENTS = frozenset({"hooks", "webhooks", "webhook", "webhookb2", "triggers"})
# Hosts whose every path segment after the first is a credential (Slack's /services/T/B/X).
_WHOLE_PATH_SECRET_HOSTS = ("hooks.slack.com",)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")
_BASE64ISH = re.compile(r"[A-Za-z0-9_\-+/=]{24,}")
_TELEGRAM_BOT = re.compile(r"bot\d+:[\w-]+")
_WORD_SPLIT = re.compile(r"[-_.~:@]")
# Channel kinds whose target is a URL that may carry secrets.
_URL_KINDS = ("webhook", "apprise")
# A short fingerprint that tells two redacted channels apart (see `channel_ref`).
_REF = re.compile(r"#([0-9a-f]{12})$")


def looks_like_token(segment: str) -> bool:
    """A path segment or value that looks generated rather than written: a UUID, a long hex run,
    a long mix of letters and digits (base64, random ids). Article slugs and dates are not."""
    text = unquote(segment)
    if len(text) < 12:
        return False
    if _UUID.search(text) or _TELEGRAM_BOT.fullmatch(text):
        return True
    hex_run = _HEX_RUN.search(text)
    if hex_run and not hex_run.group(0).isdigit():
        return True
    for part in _WORD_SPLIT.split(text):
        if len(part) >= 16 and any(c.isdigit() for c in part) and any(c.isalpha() for c in part):
            return True
    return bool(_BASE64ISH.fullmatch(text)) and any(c.isdigit() for c in text) \
        and any(c.islower() for c in text) and any(c.isupper() for c in text)


def is_secret_param(name: str) -> bool:
    normal = unquote(name).strip().lower().replace("-", "_")
    return normal in SECRET_PARAMS or normal.endswith(_SECRET_SUFFIXES)


def redact_url(url: str) -> str:
    """The URL with its secrets masked: no user or password, no fragment, token-like path segments
    and the path of known hook services as `***`, values of secret-looking query parameters (and any
    token-like value) as `***`. A string that is not a URL with a host comes back as it is (a local
    path), and one that cannot be parsed as `***`."""
    analysed = _analyse(url)
    if analysed is None:
        return MASK
    parts, path, query, _ = analysed
    if not parts.scheme or not parts.hostname:
        return url
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    redacted = f"{parts.scheme}://{netloc}{path}"
    return f"{redacted}?{query}" if query else redacted


def secret_parts(url: str) -> list[str]:
    """The pieces of `url` that `redact_url` masks (user, password, path segments, query values,
    fragment), raw and percent-decoded, longest first: what must not appear in a message about it."""
    analysed = _analyse(url)
    if analysed is None:
        return [url]
    found = analysed[3]
    found |= {unquote(piece) for piece in found}
    return sorted((piece for piece in found if len(piece) >= 3), key=len, reverse=True)


def _analyse(url: str) -> tuple[SplitResult, str, str, set[str]] | None:
    """(parts, masked path, masked query, the secret pieces), or None if `url` cannot be parsed."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    secrets = {value for value in (parts.username, parts.password, parts.fragment) if value}
    whole_path = (parts.hostname or "").lower().endswith(_WHOLE_PATH_SECRET_HOSTS)
    masked: list[str] = []
    after_hook = False
    for index, segment in enumerate(parts.path.split("/")):
        if segment and (after_hook or (whole_path and index > 1) or looks_like_token(segment)):
            secrets.add(segment)
            masked.append(MASK)
        else:
            masked.append(segment)
        if segment.lower() in _HOOK_SEGMENTS:
            after_hook = True
    pairs: list[str] = []
    for raw in parts.query.split("&") if parts.query else ():
        name, _, value = raw.partition("=")
        decoded = unquote(value.replace("+", " "))
        if value and (is_secret_param(name) or looks_like_token(decoded)):
            secrets.update({value, decoded})
            pairs.append(f"{name}={MASK}")
        else:
            pairs.append(raw)
    return parts, "/".join(masked), "&".join(pairs), secrets


def redact_text(text: str, url: str) -> str:
    """`text` with `url` replaced by its redacted form and any of its secret pieces masked (an
    error message may quote the URL whole, in parts or percent-decoded)."""
    if not url:
        return text
    redacted = redact_url(url)
    if redacted == url:
        return text
    text = text.replace(url, redacted)
    for piece in secret_parts(url):
        text = text.replace(piece, MASK)
    return text


def channel_ref(channel: str) -> str:
    """12 hex digits that tell apart channels whose redacted forms are the same (two Slack hooks)."""
    return hashlib.sha256(channel.encode("utf-8")).hexdigest()[:12]


def redact_channel(channel: str) -> str:
    """A channel (`webhook:URL`, `apprise:URL`, `email:ADDRESS`, `log:PATH`) as shown and stored
    outside the rule store. A webhook URL with secrets becomes `webhook:<redacted URL>#<ref>`: the
    ref identifies the rule's channel (to find its real URL for a retry) without revealing it. An
    apprise URL with secrets becomes `apprise:<apprise's private form>#<ref>` the same way
    (newsflow.core.apprise_urls), one apprise cannot read `apprise:<scheme>://***#<ref>`. Others
    are unchanged."""
    kind, sep, target = channel.partition(":")
    if kind not in _URL_KINDS or not sep:
        return channel
    if _REF.search(target) and MASK in target:
        return channel  # already redacted
    redacted = _redact_apprise(target) if kind == "apprise" else redact_url(target)
    if redacted == target or (kind == "apprise" and MASK not in redacted):
        return channel
    return f"{kind}:{redacted}#{channel_ref(channel)}"


def _redact_apprise(url: str) -> str:
    from newsflow.core.apprise_urls import private_url, shown_when_invalid
    from newsflow.core.errors import InvalidAppriseUrl

    try:
        return private_url(url)
    except InvalidAppriseUrl:
        return shown_when_invalid(url).removeprefix("apprise:")


def is_redacted_channel(channel: str) -> bool:
    """True for the `redact_channel` form of a channel that had secrets."""
    kind, _, target = channel.partition(":")
    return kind in _URL_KINDS and MASK in target and bool(_REF.search(target))


class RedactUrlsInLogs(logging.Filter):
    """httpx logs every request with its URL ("HTTP Request: POST https://hooks.slack.com/…"): the
    URL arguments of its records are redacted, so a token in a webhook or feed URL never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            import httpx

            record.args = tuple(redact_url(str(arg)) if isinstance(arg, httpx.URL) else arg
                                for arg in record.args)
        return True


def install_log_redaction() -> None:
    """Add RedactUrlsInLogs to httpx's logger (once; idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactUrlsInLogs) for f in logger.filters):
        logger.addFilter(RedactUrlsInLogs())
