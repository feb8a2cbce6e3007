"""The command line: help, and errors that name the problem instead of a traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from newsflow.cli import cli


def test_help_lists_the_contract_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("stack", "setup", "run", "search", "alerts"):
        assert f"  {name}" in result.output


def test_run_without_a_feeds_file_says_how_to_give_one() -> None:
    result = CliRunner().invoke(cli, ["run"], env={"NEWSFLOW_FEEDS_FILE": ""})
    assert result.exit_code == 2
    assert "--feeds" in result.output


def test_run_with_an_invalid_feeds_file_names_the_line(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - url: http://127.0.0.1:1/a.xml\n  - name: no url here\n")
    result = CliRunner().invoke(cli, ["run", "--feeds", str(feeds)],
                                env={"NEWSFLOW_ES_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 2
    assert "feeds.yaml" in result.output and "line 3" in result.output
    assert "Traceback" not in result.output
