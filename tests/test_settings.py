"""Settings: defaults, environment over YAML file, validation, and secrets kept out of output."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from newsflow.core.settings import load_settings, redact_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("NEWSFLOW_ES_URL", "NEWSFLOW_INDEX_PREFIX", "NEWSFLOW_CONFIG", "NEWSFLOW_ES_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSFLOW_HOME", str(tmp_path))


def test_contract_defaults() -> None:
    settings = load_settings()
    assert settings.es_url == "http://127.0.0.1:9200"
    assert settings.index_prefix == "news"
    assert settings.index_name("articles") == "news-articles"


def test_environment_overrides_the_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "index_prefix: fromfile\nfetch:\n  connect_timeout: 3\n  user_agent: file-agent\n")
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", "fromenv")
    monkeypatch.setenv("NEWSFLOW_FETCH__CONNECT_TIMEOUT", "7")
    settings = load_settings()
    assert settings.index_prefix == "fromenv"
    assert settings.fetch.connect_timeout == 7
    assert settings.fetch.user_agent == "file-agent"


def test_an_explicit_config_file_that_is_not_yaml_is_named_in_the_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("fetch: [unclosed\n")
    monkeypatch.setenv("NEWSFLOW_CONFIG", str(broken))
    with pytest.raises(ValueError, match=r"broken\.yaml"):
        load_settings()


@pytest.mark.parametrize("prefix", ["News", "a b", "-x", "x*y", ""])
def test_an_invalid_index_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError, match="prefix"):
        load_settings(index_prefix=prefix)


def test_credentials_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_ES_URL", "https://elastic:s3cret@es.example.test:9243")
    monkeypatch.setenv("NEWSFLOW_ES_API_KEY", "key-material")
    settings = load_settings()
    assert "s3cret" not in repr(settings) and "key-material" not in repr(settings)
    assert settings.es_url_redacted == "https://elastic:***@es.example.test:9243"
    assert settings.es_api_key is not None
    assert settings.es_api_key.get_secret_value() == "key-material"


def test_redact_url_leaves_urls_without_password_alone() -> None:
    assert redact_url("http://127.0.0.1:9200") == "http://127.0.0.1:9200"
