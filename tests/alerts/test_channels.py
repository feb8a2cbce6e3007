"""Channel texts as users write them: parsed to a canonical form, or refused with a clear reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.alerts.channels import Channel, parse_channel
from newsflow.core.errors import AlertError


def test_a_webhook_channel_keeps_its_url() -> None:
    assert parse_channel("webhook:https://hooks.example.com/a?b=1") == Channel(
        "webhook", "https://hooks.example.com/a?b=1")


def test_an_email_channel_keeps_its_address() -> None:
    assert parse_channel("email:desk@example.org").text == "email:desk@example.org"


def test_a_log_path_is_made_absolute_so_any_working_directory_writes_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_channel("log:alerts.jsonl") == Channel("log", str(tmp_path / "alerts.jsonl"))


@pytest.mark.parametrize(("text", "reason"), [
    ("sms:+441234", "expected webhook:URL, apprise:URL, email:ADDRESS or log:PATH"),
    ("https://example.com/hook", "expected webhook:URL"),
    ("webhook:", "nothing after 'webhook:'"),
    ("webhook:ftp://example.com/x", "http:// or https:// URL"),
    ("webhook:http://example.com:notaport/x", "bad port"),
    ("email:not-an-address", "is not an e-mail address"),
])
def test_a_channel_that_cannot_work_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(AlertError, match=reason):
        parse_channel(text)
