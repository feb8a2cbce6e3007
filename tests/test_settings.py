"""Settings: defaults, environment over YAML file, validation, and secrets kept out of output."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.core.errors import ConfigError, SettingsError
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
    with pytest.raises(SettingsError, match=r"broken\.yaml"):
        load_settings()


@pytest.mark.parametrize("prefix", ["News", "a b", "-x", "x*y", ""])
def test_an_invalid_index_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(SettingsError, match="prefix"):
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


def test_a_missing_explicit_config_file_is_a_settings_error(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSFLOW_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(SettingsError, match=r"NEWSFLOW_CONFIG=.*gone\.yaml names no file") as caught:
        load_settings()
    assert isinstance(caught.value, ConfigError)


def test_a_config_file_that_is_not_a_mapping_names_the_file(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    listed = tmp_path / "listed.yaml"
    listed.write_text("- index_prefix: news\n")
    monkeypatch.setenv("NEWSFLOW_CONFIG", str(listed))
    with pytest.raises(SettingsError, match=r"listed\.yaml: expected a mapping"):
        load_settings()


def test_each_invalid_setting_is_named_with_its_variable_and_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_FETCH__CONNECT_TIMEOUT", "soon")
    monkeypatch.setenv("NEWSFLOW_ES_VERIFY_CERTS", "maybe")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    problems = caught.value.problems
    assert len(problems) == 2
    timeout = next(p for p in problems if "connect_timeout" in p)
    assert "fetch.connect_timeout (NEWSFLOW_FETCH__CONNECT_TIMEOUT) = 'soon'" in timeout
    assert "write a number" in timeout
    verify = next(p for p in problems if "verify_certs" in p)
    assert "NEWSFLOW_ES_VERIFY_CERTS" in verify and "true or false" in verify


def test_an_invalid_setting_in_the_config_file_names_the_file(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("alerts:\n  smtp_port: twenty-five\n")
    with pytest.raises(SettingsError, match=r"config\.yaml") as caught:
        load_settings()
    assert caught.value.problems == [
        "alerts.smtp_port (NEWSFLOW_ALERTS__SMTP_PORT) = 'twenty-five': Input should be a valid integer, "
        "unable to parse string as an integer; write a whole number, e.g. 30"]


def test_a_secret_that_fails_validation_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(alerts={"smtp_password": ["not", "a", "string", "s3cret"]})
    assert "s3cret" not in str(caught.value) and "alerts.smtp_password" in str(caught.value)


def test_a_group_given_as_bad_json_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_FETCH", "timeout=5")
    with pytest.raises(SettingsError, match=r"NEWSFLOW_FETCH__CONNECT_TIMEOUT=5"):
        load_settings()


@pytest.mark.parametrize("env, expected", [
    ({"NEWSFLOW_FETCH__CONNECT_TIMEOUT": "soon"}, "NEWSFLOW_FETCH__CONNECT_TIMEOUT"),
    ({"NEWSFLOW_INDEX_PREFIX": "News"}, "NEWSFLOW_INDEX_PREFIX='News' is not a valid index-name prefix"),
    ({"NEWSFLOW_CONFIG": "/nonexistent/newsflow.yaml"}, "NEWSFLOW_CONFIG=/nonexistent/newsflow.yaml"),
])
def test_the_cli_prints_an_invalid_setting_without_a_traceback(env: dict[str, str], expected: str) -> None:
    # Every command reads the settings first; `alerts list` and `run` never get as far as Elasticsearch.
    for args in (["alerts", "list"], ["run", "--feeds", "feeds.yaml"]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 2, result.output
        assert expected in result.output
        assert "Traceback" not in result.output and "ValidationError" not in result.output
        assert not isinstance(result.exception, SettingsError)  # handled: printed, then exit 2
