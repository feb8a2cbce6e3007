"""The local Elasticsearch manager against the real node the session runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.core.settings import load_settings
from newsflow.dev.stack import ES_SHA256, LocalElasticsearch, cluster_status


def test_status_exits_zero_only_when_the_cluster_is_healthy(es_url: str) -> None:
    runner = CliRunner()
    healthy = runner.invoke(cli, ["stack", "status", "--json"], env={"NEWSFLOW_ES_URL": es_url})
    assert healthy.exit_code == 0, healthy.output
    assert '"healthy": true' in healthy.output

    unreachable = runner.invoke(cli, ["stack", "status"], env={"NEWSFLOW_ES_URL": "http://127.0.0.1:9"})
    assert unreachable.exit_code == 1
    assert "unreachable" in unreachable.output


def test_up_is_idempotent_when_the_node_is_already_healthy(es_url: str) -> None:
    stack = LocalElasticsearch(load_settings(es_url=es_url))
    before = stack.status()
    after = stack.up()
    assert after.healthy and after.pid == before.pid


def test_the_installed_distribution_was_verified(es_url: str) -> None:
    stack = LocalElasticsearch(load_settings(es_url=es_url))
    marker = stack.dist / ".newsflow-installed"
    assert marker.read_text().strip() == ES_SHA256
    config = (stack.dist / "config" / "elasticsearch.yml").read_text()
    assert "network.host: 127.0.0.1" in config


def test_the_node_listens_on_loopback_only(es_url: str) -> None:
    status = cluster_status(es_url)
    assert status.healthy and status.version.startswith("8.")
    import httpx

    nodes = httpx.get(f"{es_url}/_nodes/http").json()["nodes"]
    for node in nodes.values():
        assert all(address.startswith(("127.0.0.1", "[::1]")) for address in node["http"]["bound_address"])


@pytest.mark.parametrize("url", ["http://10.1.2.3:9200", "https://es.example.test:9243"])
def test_the_stack_refuses_to_manage_a_remote_node(url: str, tmp_path: object) -> None:
    from newsflow.core.errors import StackError

    stack = LocalElasticsearch(load_settings(es_url=url, home=tmp_path))
    with pytest.raises(StackError, match="manages only a local node"):
        stack.install()
