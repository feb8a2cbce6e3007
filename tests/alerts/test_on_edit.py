"""`--on-edit` rules against the real Elasticsearch: an article edited twice over three cycles alerts
such a rule once per edit (the alert JSON carrying "revision"), a re-run never again, and a plain rule
alerts the story once and never on its edits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.dedupe import classify
from newsflow.alerts import AlertStore, RuleStore
from newsflow.alerts.digests import deliver_digests
from newsflow.alerts.periods import period_containing
from newsflow.alerts.processing import AlertRun
from newsflow.alerts.records import alert_id_for, edit_alert_id_for
from newsflow.cli import cli
from newsflow.core.es import make_client
from newsflow.core.models import Article, utc_now
from newsflow.index.documents import index_documents
from newsflow.index.revisions import revision_id_for
from newsflow.index.store import ArticleStore

pytestmark = pytest.mark.es


def cycle(settings: Any, articles: Sequence[Article]) -> int:
    """A cycle's index and alert steps, as `newsflow run` does them (a new process each time): the
    new and updated articles are written, then matched and delivered. The alerts created."""
    with make_client(settings) as client:
        store = ArticleStore(client, settings)
        store.refresh()
        classified = classify(list(articles), store.stored_articles([a.id for a in articles]))
        changed = [*classified.new, *classified.updated]
        documents = index_documents(changed, settings.index)
        written = store.write_prepared(documents)
        assert not written.deferred and not written.errors
        run = AlertRun(client, settings)
        run.match(changed, documents=documents)
        store.clear_alert_pending([a.id for a in changed])
        totals = run.deliver()
    assert totals.failed == 0
    return totals.created


def test_an_on_edit_rule_alerts_once_per_revision_and_a_plain_rule_not_on_edits(
    alert_settings: Any, make_article: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = alert_settings()
    edits_log, plain_log = tmp_path / "edits.jsonl", tmp_path / "plain.jsonl"
    for name, value in (("NEWSFLOW_ES_URL", settings.es_url),
                        ("NEWSFLOW_INDEX_PREFIX", settings.index_prefix),
                        ("NEWSFLOW_HOME", str(settings.home))):
        monkeypatch.setenv(name, value)
    added = CliRunner().invoke(cli, ["alerts", "add", "rates-edits", "--query", "interest rates",
                                     "--channel", f"log:{edits_log}", "--on-edit"])
    assert added.exit_code == 0, added.output
    assert "also alerts on each edit of a matching article (once per revision)" in added.stdout
    with make_client(settings) as client:
        RuleStore(client, settings).add("rates", "interest rates", [f"log:{plain_log}"])
        assert RuleStore(client, settings).get("rates-edits").on_edit  # type: ignore[union-attr]
    first = make_article(story_id="st-rates")
    second = replace(first, title="Central bank raises interest rates to 4%")
    third = replace(second, body=second.body + "\n\nMarkets had expected the move.")

    assert cycle(settings, [first]) == 2  # the new story: both rules
    assert cycle(settings, [second]) == 1  # the first edit: the on-edit rule only
    assert cycle(settings, [third]) == 1  # the second edit
    assert cycle(settings, [third]) == 0  # a re-run: unchanged, nothing
    # Matching the edited article again (the alert queue after a crash) repeats nothing either.
    with make_client(settings) as client:
        run = AlertRun(client, settings)
        run.match([third])
        assert run.deliver().created == 0
        records = {r.id: r for r in AlertStore(client, settings).all()}

    plain = [json.loads(line) for line in plain_log.read_text().splitlines()]
    assert [(a["rule"], a["article"]["title"], "revision" in a) for a in plain] == [
        ("rates", first.title, False)]
    sent = [json.loads(line) for line in edits_log.read_text().splitlines()]
    assert [("revision" in a) for a in sent] == [False, True, True]
    one, two = sent[1]["revision"], sent[2]["revision"]
    assert (one["id"], one["number"], one["previous_title"], one["title_changed"]) == (
        revision_id_for(first.id, first.content_hash), 1, first.title, True)
    assert (two["id"], two["number"], two["title_changed"], two["paragraphs_added"]) == (
        revision_id_for(first.id, second.content_hash), 2, False, 1)
    assert sent[1]["id"] == edit_alert_id_for("rates-edits", "st-rates", one["id"])
    assert sent[2]["article"]["title"] == second.title  # the alert shows the edited article
    # The contract's fields are all there, as for any alert.
    assert set(sent[0]) == {"id", "rule", "query", "story_id", "matched_at", "article"}
    assert set(sent[1]) == set(sent[0]) | {"revision"}
    assert sorted(records) == sorted({alert_id_for("rates", "st-rates"),
                                      alert_id_for("rates-edits", "st-rates"), sent[1]["id"], sent[2]["id"]})
    assert records[sent[2]["id"]].revision is not None and records[sent[2]["id"]].status == "sent"
    shown = CliRunner().invoke(cli, ["alerts", "recent", "--rule", "rates-edits"])
    assert shown.exit_code == 0, shown.output
    assert f"rates-edits: {second.title} ({second.source}) · edit 2: 1 paragraph added" in shown.stdout
    assert f"rates-edits: {second.title} ({second.source}) · edit 1: title changed" in shown.stdout


def test_an_on_edit_digest_rule_lists_each_edit_as_an_entry_of_its_own(
    alert_settings: Any, make_article: Any, tmp_path: Path,
) -> None:
    settings = alert_settings()
    log_file = tmp_path / "digest.jsonl"
    with make_client(settings) as client:
        RuleStore(client, settings).add("rates-daily", "interest rates", [f"log:{log_file}"],
                                        digest="daily", on_edit=True)
        AlertStore(client, settings).ensure()
    first = make_article(story_id="st-daily")
    edited = replace(first, body=first.body + "\n\nMarkets had expected the move.")
    assert cycle(settings, [first]) == 1
    assert cycle(settings, [edited]) == 1
    assert not log_file.exists()  # held for the digest

    period = period_containing(utc_now(), "daily", "UTC")  # (the cycles may straddle midnight UTC)
    with make_client(settings) as client:
        sent = deliver_digests(client, settings, now=period.end + timedelta(minutes=1))
        again = deliver_digests(client, settings, now=period.end + timedelta(minutes=11))
    assert {o.status for o in sent.outcomes} == {"sent"} and sum(o.stories for o in sent.outcomes) == 2
    assert again.outcomes == ()
    story, edit = [entry for line in log_file.read_text().splitlines()
                   for entry in json.loads(line)["stories"]]
    assert (story["story_id"], "revision" in story) == ("st-daily", False)
    assert (edit["story_id"], edit["revision"]["number"], edit["revision"]["paragraphs_added"]) == (
        "st-daily", 1, 1)
    assert edit["alert_id"] == edit_alert_id_for("rates-daily", "st-daily", edit["revision"]["id"])


def test_alerts_list_shows_which_rules_alert_on_edits(alert_settings: Any, tmp_path: Path) -> None:
    settings = alert_settings()
    env = {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
           "NEWSFLOW_HOME": str(settings.home)}
    for args in (["edits", "--on-edit"], ["plain"]):
        added = CliRunner().invoke(cli, ["alerts", "add", args[0], "--query", "rates",
                                         "--channel", f"log:{tmp_path / 'a.jsonl'}", *args[1:]], env=env)
        assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(cli, ["alerts", "list", "--json"], env=env)
    shown = {rule["name"]: rule.get("on_edit", False) for rule in json.loads(listed.stdout)}
    assert shown == {"edits": True, "plain": False}
    text = CliRunner().invoke(cli, ["alerts", "list"], env=env).stdout
    assert [line.endswith("\ton edit") for line in text.splitlines()] == [True, False]
