"""The three ways an alert leaves newsflow: webhook (HTTP POST), e-mail (SMTP) and a JSON-lines log file.

Each sender either returns (delivered) or raises DeliveryError with what failed; dependency errors
(httpx, smtplib, OS) are translated here. The body of an alert is its payload (AlertRecord.payload).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import smtplib
import ssl
import time
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import orjson

from newsflow.alerts.records import AlertRecord
from newsflow.core.errors import DeliveryError, InsecureSmtpLogin
from newsflow.core.redact import install_log_redaction, redact_channel, redact_text
from newsflow.core.settings import AlertSettings

SIGNATURE_HEADER = "X-Newsflow-Signature"
TIMESTAMP_HEADER = "X-Newsflow-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Statuses worth retrying at once; any other 4xx means the request itself is refused.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer body read before the connection is dropped


install_log_redaction()  # httpx logs each webhook request with its URL


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`.

    The timestamp (Unix seconds, sent as X-Newsflow-Timestamp) is inside what is signed, so a
    receiver that rejects old timestamps cannot be fed a captured delivery again later (as Stripe
    and Slack sign theirs)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def send_webhook(http: httpx.Client, url: str, record: AlertRecord, config: AlertSettings) -> None:
    """POST the alert; a few quick retries with backoff on 5xx/429/timeouts, then DeliveryError."""
    post_json(http, url, encode_payload(record.payload()), record.id, config)


def post_json(http: httpx.Client, url: str, body: bytes, key: str, config: AlertSettings) -> None:
    """POST a JSON body (an alert, or a digest) whose stable id is `key` (the Idempotency-Key);
    a few quick retries with backoff on 5xx/429/timeouts, then DeliveryError.

    The error names the channel redacted, and httpx's own message (which may quote the URL) is
    scrubbed of the URL's secrets: errors end up in logs, the run report and the alerts index."""
    channel = redact_channel(f"webhook:{url}")
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key,
               "X-Newsflow-Alert-Id": key, "User-Agent": "newsflow-alerts/0.1"}
    attempts = 1 + max(0, config.webhook_retries)
    for attempt in range(attempts):
        if attempt:
            time.sleep(config.webhook_retry_backoff * 2 ** (attempt - 1))
        if config.webhook_secret is not None:  # signed again per attempt: a fresh timestamp
            timestamp = int(time.time())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(body, config.webhook_secret.get_secret_value(), timestamp)
        try:
            with http.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
                # The status is the answer; a body cut short changes nothing.
                with contextlib.suppress(httpx.HTTPError):
                    _drain(response, time.monotonic() + config.webhook_timeout)
        except httpx.HTTPError as exc:
            error = DeliveryError(channel, f"{type(exc).__name__}: {redact_text(str(exc), url)}")
        else:
            if 200 <= status < 300:
                return
            retryable = status >= 500 or status in _RETRYABLE_4XX
            error = DeliveryError(channel, f"HTTP {status}", retryable=retryable)
            if not retryable:
                raise error
    raise error


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address literal (127.0.0.0/8, ::1). Names are not resolved: a name
    that happens to resolve to a loopback address today is treated as remote. Pure."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_smtp_login_security(config: AlertSettings) -> None:
    """Raise InsecureSmtpLogin if a login would be sent over a plaintext connection. Pure."""
    if config.smtp_username and not (config.smtp_ssl or config.smtp_starttls) \
            and not is_loopback_host(config.smtp_host):
        raise InsecureSmtpLogin(config.smtp_host, config.smtp_port)


def _drain(response: httpx.Response, deadline: float) -> None:
    """Read a little of the receiver's answer body, which nothing uses: a small one fully (so the
    connection can carry the next alert), but never more than `_MAX_ANSWER_BYTES` nor past
    `deadline` (monotonic). A huge or trickling answer would otherwise hold memory or the whole
    delivery run (httpx's timeout is per read, not per response)."""
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read > _MAX_ANSWER_BYTES or time.monotonic() > deadline:
            return  # leaving the stream closes the connection


def send_email(address: str, records: Sequence[AlertRecord], config: AlertSettings) -> None:
    """One message to `address`: a single alert, or a digest of several alerts of one rule."""
    send_email_message(address, build_email(address, records, config), config)


def send_email_message(address: str, message: EmailMessage, config: AlertSettings) -> None:
    """Send a built message to `address` over the configured SMTP server, or raise DeliveryError."""
    channel = f"email:{address}"
    try:
        check_smtp_login_security(config)  # before connecting: nothing is sent at all
    except InsecureSmtpLogin as exc:
        raise DeliveryError(channel, str(exc), retryable=False) from exc
    try:
        # The server's certificate is always verified (system CAs, or NEWSFLOW_ALERTS__SMTP_CA_CERTS).
        context = ssl.create_default_context(
            cafile=str(config.smtp_ca_certs) if config.smtp_ca_certs else None)
        smtp: smtplib.SMTP
        if config.smtp_ssl:
            smtp = smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout)
        with smtp:
            if config.smtp_starttls and not config.smtp_ssl:
                smtp.starttls(context=context)
            if config.smtp_username:
                # Checked again on the socket itself, whatever the settings said.
                if not isinstance(smtp.sock, ssl.SSLSocket) and not is_loopback_host(config.smtp_host):
                    raise InsecureSmtpLogin(config.smtp_host, config.smtp_port)
                password = config.smtp_password.get_secret_value() if config.smtp_password else ""
                smtp.login(config.smtp_username, password)
            smtp.send_message(message)
    except InsecureSmtpLogin as exc:
        raise DeliveryError(channel, str(exc), retryable=False) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(channel, f"recipient refused by {config.smtp_host}: {exc.recipients}",
                            retryable=False) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            channel, f"SMTP {config.smtp_host}:{config.smtp_port}: {type(exc).__name__}: {exc} "
            "(check NEWSFLOW_ALERTS__SMTP_* settings)") from exc


def build_email(address: str, records: Sequence[AlertRecord], config: AlertSettings) -> EmailMessage:
    if not records:
        raise ValueError("an e-mail needs at least one alert")
    rule = records[0].rule
    message = EmailMessage()
    message["From"] = config.smtp_from
    message["To"] = address
    message["Date"] = formatdate(usegmt=True)
    ids = [r.id for r in records]
    if len(records) == 1:
        record = records[0]
        edited = "edited: " if record.revision is not None else ""
        message["Subject"] = f"[newsflow] {rule}: {edited}{record.headline}"
        message["Message-ID"] = f"<{record.id}@newsflow>"
    else:
        message["Subject"] = f"[newsflow] {rule}: {len(records)} new stories"
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]
        message["Message-ID"] = f"<digest-{digest}@newsflow>"
    message["X-Newsflow-Rule"] = rule
    message["X-Newsflow-Alert-Ids"] = ", ".join(ids)
    lines = [f"Rule {rule!r} ({records[0].query}) matched {len(records)} new "
             f"{'story' if len(records) == 1 else 'stories'}:", ""]
    for record in records:
        article = record.article
        lines += [f"* {article.title}", f"  {article.source}, {article.published_at:%Y-%m-%d %H:%M} UTC"]
        if record.revision is not None:  # an `--on-edit` rule's alert of an edit
            lines += [f"  {record.revision.describe()} (was: {record.revision.previous_title})"]
        lines += [f"  {article.url}", f"  alert {record.id}", ""]
    message.set_content("\n".join(lines))
    payloads = [r.payload() for r in records]
    message.add_attachment(
        json.dumps(payloads if len(payloads) > 1 else payloads[0], ensure_ascii=False, indent=2),
        subtype="json", filename="alerts.json" if len(payloads) > 1 else "alert.json")
    return message


def send_log(path: str, records: Sequence[AlertRecord]) -> None:
    """Append one JSON line per alert and make them durable before the deliveries count as sent.

    One write and one fsync for all of a run's alerts to this file: an fsync per line cost more than
    the matching itself when a cycle raised thousands of alerts."""
    # orjson: a cycle with many rules writes tens of thousands of lines; json.dumps took a second.
    append_json_lines(path, [record.payload() for record in records])


def append_json_lines(path: str, payloads: Sequence[dict[str, Any]]) -> None:
    """Append one JSON line per payload with one write and one fsync, or raise DeliveryError."""
    channel = f"log:{path}"
    lines = b"".join(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
                     for payload in payloads)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise DeliveryError(channel, f"cannot append to {path}: {exc.strerror or exc}") from exc
