"""`apprise:` channels: an alert sent to a chat or push service through apprise (Slack, Microsoft
Teams workflows, Telegram, Discord, Matrix, ntfy and the other services apprise knows).

Each alert is one message: the article's title as the message title, then the outlet and time, the
link, the rule and the alert id. Its body is written in the richest format the service takes
(`message_for`): Markdown where the service renders it (apprise turns it into the service's own
dialect, e.g. Slack's mrkdwn `<url|text>` links), HTML for services that take only HTML, plain text
otherwise (SMS, ntfy without `?format=markdown`), so no service shows raw markup.

A send is bounded by `AlertSettings.apprise_timeout` (apprise's deadline for the whole call, and the
socket timeouts of each request). Sends to one channel in a run keep apprise's spacing for that
service (`request_rate_per_sec`, at most `_MAX_SPACING`), as apprise would between its own messages.
A failed or unfinished send raises DeliveryError with what apprise logged, scrubbed of the URL's
secrets; the delivery machinery retries it in a later run like a webhook.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from newsflow.alerts.records import AlertRecord
from newsflow.core.apprise_urls import asset, install_log_scrubbing, load_service, scrub
from newsflow.core.errors import DeliveryError, InvalidAppriseUrl
from newsflow.core.redact import redact_channel
from newsflow.core.settings import AlertSettings

if TYPE_CHECKING:
    from apprise import NotifyBase

# The longest pause kept between two messages to one channel (apprise's default is 5.5 s for a
# service that names no rate of its own; Slack's is 1.2 s).
_MAX_SPACING = 6.0
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    title: str
    body: str
    body_format: str  # apprise's NotifyFormat value: "markdown", "html" or "text"


def formats_of(service: NotifyBase) -> tuple[str, ...]:
    """The body formats the service takes, its preferred first (apprise's `notify_format`)."""
    declared: Any = service.notify_format
    values = declared if isinstance(declared, tuple | list) else (declared,)
    return tuple(str(getattr(value, "value", value)) for value in values)


def message_for(record: AlertRecord, formats: tuple[str, ...]) -> ChatMessage:
    """The message of an alert for a service taking `formats`. Pure."""
    article = record.article
    title = " ".join(record.headline.split())
    when = f"{article.published_at:%Y-%m-%d %H:%M} UTC"
    if record.revision is not None:  # an `--on-edit` rule's alert of an edit
        when += f" · {record.revision.describe()}"
    outlet = " ".join(article.source.split())
    if "markdown" in formats:
        label = markdown_text(f"Read at {outlet}" if outlet else "Read the story")
        head = f"**{markdown_text(outlet)}** · {when}" if outlet else when
        body = "\n".join([head, f"[{label}]({link_target(article.url)})",
                          f"Rule `{record.rule}` · alert `{record.id}`"])
        return ChatMessage(title, body, "markdown")
    if "html" in formats:
        label = html.escape(f"Read at {outlet}" if outlet else "Read the story")
        head = f"<b>{html.escape(outlet)}</b> · {when}" if outlet else when
        body = "<br>\n".join([head, f'<a href="{html.escape(article.url, quote=True)}">{label}</a>',
                              f"Rule <code>{html.escape(record.rule)}</code> · alert "
                              f"<code>{record.id}</code>"])
        return ChatMessage(title, body, "html")
    head = f"{outlet} · {when}" if outlet else when
    return ChatMessage(title, "\n".join([head, article.url, f"Rule {record.rule} · alert {record.id}"]),
                       "text")


def markdown_text(text: str) -> str:
    """Text with Markdown's special characters escaped. Pure."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def link_target(url: str) -> str:
    """A URL safe inside Markdown's `(…)`: spaces and parentheses percent-encoded."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


class ChatSender:
    """Sends alerts over `apprise:` channels for one delivery run (keeps each channel's spacing)."""

    def __init__(self, config: AlertSettings) -> None:
        self.config = config
        self._last_sent: dict[str, float] = {}  # apprise URL -> monotonic time of its last send
        install_log_scrubbing()

    def send(self, url: str, record: AlertRecord) -> None:
        """Send the alert to `url` (an apprise URL), or raise DeliveryError."""
        self.send_message(url, lambda formats: message_for(record, formats), click=record.article.url)

    def send_message(self, url: str, compose: Callable[[tuple[str, ...]], ChatMessage], *,
                     click: str = "") -> None:
        """Send the message `compose` makes for the service's formats to `url` (an apprise URL),
        or raise DeliveryError. `click`: where a tap on a push notification leads (ntfy)."""
        import apprise

        channel = redact_channel(f"apprise:{url}")
        try:
            service = load_service(url)  # a fresh plugin: no state carried from another alert
        except InvalidAppriseUrl as exc:
            raise DeliveryError(channel, exc.problem, retryable=False) from exc
        timeout = self.config.apprise_timeout
        # Each request bounded too (apprise's defaults are 4 s to connect and 4 s to read), a little
        # past the deadline: a request apprise stopped waiting for ends soon after in the background.
        service.socket_connect_timeout = min(float(service.socket_connect_timeout), timeout + 1.0)
        service.socket_read_timeout = min(float(service.socket_read_timeout), timeout + 1.0)
        if click and getattr(service, "click", "") is None:
            setattr(service, "click", click)  # noqa: B010 - ntfy: a tap opens the article
        self._keep_spacing(url, service)
        message = compose(formats_of(service))
        sender = apprise.Apprise(asset=asset())
        sender.add(service)
        try:
            result = sender.notify(body=message.body, title=message.title, body_format=message.body_format,
                                   timeout=timeout)
        finally:
            self._last_sent[url] = time.monotonic()
        if result:
            return
        if result.status == apprise.AppriseResultStatus.TIMEOUT:
            reason = (f"no answer within {timeout:g} s (NEWSFLOW_ALERTS__APPRISE_TIMEOUT); the message "
                      "may still arrive")
        else:
            said = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
            reason = "; ".join(dict.fromkeys(said)) or f"apprise reported {result.status.name}"
        raise DeliveryError(channel, f"{service.service_name}: {scrub(reason, url)}")

    def _keep_spacing(self, url: str, service: NotifyBase) -> None:
        last = self._last_sent.get(url)
        if last is None:
            return
        spacing = min(float(service.request_rate_per_sec), _MAX_SPACING)
        wait = last + spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def send_budget(config: AlertSettings) -> float:
    """The longest one apprise send may take: the pause between two messages, then the call."""
    return _MAX_SPACING + config.apprise_timeout
