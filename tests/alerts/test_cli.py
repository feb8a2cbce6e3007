"""`newsflow alerts add|list|remove|recent` as users run it, against the real Elasticsearch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from newsflow.alerts import match_articles
from newsflow.cli import cli
from newsflow.core.es import make_client
from newsflow.core.models import Article


def _env(settings: Any) -> dict[str, str]:
    return {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
            "NEWSFLOW_HOME": str(settings.home), "NEWSFLOW_CONFIG": ""}


def test_add_list_and_remove_a_rule(settings: Any, tmp_path: Path) -> None:
    run = CliRunner().invoke
    env = _env(settings)

    added = run(cli, ["alerts", "add", "merkel", "--query", 'persons:"Angela Merkel"',
                      "--channel", "webhook:http://127.0.0.1:9/hook",
                      "--channel", f"log:{tmp_path / 'merkel.jsonl'}"], env=env)
    listed = run(cli, ["alerts", "list", "--json"], env=env)
    removed = run(cli, ["alerts", "remove", "merkel"], env=env)
    after = run(cli, ["alerts", "list", "--json"], env=env)

    assert added.exit_code == 0, added.output
    assert "saved rule merkel" in added.output
    [rule] = json.loads(listed.stdout)
    assert (rule["name"], rule["query"]) == ("merkel", 'persons:"Angela Merkel"')
    assert rule["channels"] == ["webhook:http://127.0.0.1:9/hook", f"log:{tmp_path / 'merkel.jsonl'}"]
    assert removed.exit_code == 0 and "removed rule merkel" in removed.output
    assert json.loads(after.stdout) == []


def test_an_invalid_query_is_refused_with_the_parsers_message_and_exit_status_2(settings: Any) -> None:
    result = CliRunner().invoke(
        cli, ["alerts", "add", "broken", "--query", "title:(rates", "--channel", "log:/tmp/x.jsonl"],
        env=_env(settings))

    assert result.exit_code == 2
    assert "Cannot parse 'title:(rates'" in result.output
    assert "Traceback" not in result.output


def test_removing_an_unknown_rule_says_so(settings: Any) -> None:
    result = CliRunner().invoke(cli, ["alerts", "remove", "nothing-here"], env=_env(settings))

    assert result.exit_code == 2
    assert "no rule named 'nothing-here'" in result.output


def test_recent_shows_alerts_with_their_delivery_status(
    settings: Any, tmp_path: Path, make_article: Callable[..., Article]
) -> None:
    env = _env(settings)
    log_file = tmp_path / "rates.jsonl"
    CliRunner().invoke(cli, ["alerts", "add", "rates", "-q", "rates", "-c", f"log:{log_file}"], env=env)
    with make_client(settings) as client:
        match_articles(client, settings, [make_article(story_id="s1")])

    text = CliRunner().invoke(cli, ["alerts", "recent"], env=env)
    as_json = CliRunner().invoke(cli, ["alerts", "recent", "--json"], env=env)

    assert text.exit_code == 0, text.output
    assert "pending rates: Central bank raises interest rates (Example News)" in text.output
    assert f"pending log:{log_file} (attempts 0)" in text.output
    [alert] = json.loads(as_json.stdout)
    assert (alert["rule"], alert["story_id"], alert["status"]) == ("rates", "s1", "pending")
