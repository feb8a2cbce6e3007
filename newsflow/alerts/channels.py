"""Alert channels as written by users (`webhook:URL`, `apprise:URL`, `email:ADDRESS`, `log:PATH`),
parsed and checked.

Parsing is pure and strict: a rule with a channel that cannot work is refused when it is added, not
when its first alert fails. An `apprise:` URL is read by apprise itself (the service's own parser:
Slack, Teams workflows, ntfy, Telegram, Discord, Matrix and the rest); one it refuses is an
InvalidAppriseUrl naming the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from newsflow.core.apprise_urls import load_service
from newsflow.core.errors import AlertError

ChannelKind = Literal["webhook", "apprise", "email", "log"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("webhook", "apprise", "email", "log")

# Deliberately loose: one @, no spaces, a dot in the domain (or localhost). SMTP has the last word.
_EMAIL = re.compile(r"^[^@\s<>,;]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|localhost)$")


@dataclass(frozen=True, slots=True)
class Channel:
    """Where an alert goes: a kind and its target (URL, apprise URL, e-mail address or absolute path)."""

    kind: ChannelKind
    target: str

    @property
    def text(self) -> str:
        """The canonical `kind:target` form, as stored with the rule and shown to users."""
        return f"{self.kind}:{self.target}"

    def __str__(self) -> str:
        return self.text


def parse_channel(text: str) -> Channel:
    """Parse `webhook:URL`, `apprise:URL`, `email:ADDRESS` or `log:PATH`.

    An apprise URL is kept as written (the rule store is the one place that keeps its secrets). A log
    path is made absolute (against the current directory, after `~` expansion) so the cycle writes to
    the same file whatever directory it runs in.
    """
    kind, sep, target = text.strip().partition(":")
    kind = kind.strip().lower()
    target = target.strip()
    if sep and target.startswith("//") and kind not in ("http", "https"):
        raise AlertError(f"invalid channel '{kind}://***': a chat or push service URL is an apprise "
                         f"channel: write apprise:{kind}://…")
    if not sep or kind not in CHANNEL_KINDS:
        raise AlertError(
            f"invalid channel {_shown(text)!r}: expected webhook:URL, apprise:URL, email:ADDRESS or log:PATH"
        )
    if not target:
        raise AlertError(f"invalid channel {text!r}: nothing after '{kind}:'")
    if kind == "webhook":
        return Channel("webhook", _check_url(text, target))
    if kind == "apprise":
        load_service(target)  # InvalidAppriseUrl, with what apprise said, secrets masked
        return Channel("apprise", target)
    if kind == "email":
        if not _EMAIL.match(target):
            raise AlertError(f"invalid channel {text!r}: {target!r} is not an e-mail address")
        return Channel("email", target)
    return Channel("log", str(Path(target).expanduser().absolute()))


def _check_url(text: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertError(
            f"invalid channel {text!r}: a webhook needs an http:// or https:// URL with a host"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise AlertError(f"invalid channel {text!r}: bad port in {url!r}") from exc
    return url


def _shown(text: str) -> str:
    """A channel text of an unknown kind, as an error may quote it: it may be a URL with secrets."""
    from newsflow.core.redact import redact_url

    return redact_url(text.strip()) if "//" in text else text
