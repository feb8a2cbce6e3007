"""The Elasticsearch half of the scale-out rig (issue 19): the nodes' config, `index.replicas: auto`
against the real single node, the CLI group, and one small drill (6 feeds; the client talks to the
node that is stopped, so the rest of cycle 1 spools) on a three-node cluster of its own (ports
9481-9483, not the CLI's 9281-9283)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from newsflow.core.errors import SettingsError, StackError
from newsflow.core.es import auto_replicas, is_data_node, make_client, number_of_replicas
from newsflow.core.settings import default_home, load_settings
from newsflow.dev.es_cluster import CLUSTER_NAME, EsCluster, render_config

TEST_HTTP_BASE = 9481


def test_node_config_joins_three_nodes_on_loopback(tmp_path: Path) -> None:
    config = yaml.safe_load(render_config(1, nodes=3, http_base=9281, node_dir=tmp_path / "es-1"))
    assert config["cluster.name"] == CLUSTER_NAME
    assert config["node.name"] == "rig-es-1"
    assert config["network.host"] == "127.0.0.1"
    assert (config["http.port"], config["transport.port"]) == (9282, 9382)
    assert config["discovery.seed_hosts"] == ["127.0.0.1:9381", "127.0.0.1:9382", "127.0.0.1:9383"]
    assert config["cluster.initial_master_nodes"] == ["rig-es-0", "rig-es-1", "rig-es-2"]
    assert config["path.data"] == str(tmp_path / "es-1" / "data")
    assert config["xpack.security.enabled"] is False
    assert "discovery.type" not in config  # the single node's single-node discovery is not inherited


def test_cluster_lays_out_one_folder_and_port_per_node(tmp_path: Path) -> None:
    cluster = EsCluster(load_settings(home=tmp_path), http_base=9481, rig_dir=tmp_path / "rig")
    assert cluster.urls == ["http://127.0.0.1:9481", "http://127.0.0.1:9482", "http://127.0.0.1:9483"]
    assert [node.dir for node in cluster.nodes] == [tmp_path / "rig" / f"es-{i}" for i in range(3)]
    assert cluster.dist == load_settings(home=tmp_path).es_home / "elasticsearch-8.12.2"
    status = cluster.status()  # nothing runs on these ports in this test
    assert status.cluster_status == "unreachable" and not any(n.reachable for n in status.nodes)
    with pytest.raises(StackError, match="unknown cluster colour"):
        cluster.wait_status("blue", timeout=1)
    with pytest.raises(StackError, match="at least one node"):
        EsCluster(load_settings(home=tmp_path), nodes=0)


def test_replicas_setting_accepts_auto_or_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().index.replicas == "auto"
    assert load_settings(index={"replicas": 2}).index.replicas == 2
    monkeypatch.setenv("NEWSFLOW_INDEX__REPLICAS", "1")
    assert load_settings().index.replicas == 1
    monkeypatch.setenv("NEWSFLOW_INDEX__REPLICAS", "AUTO")
    assert load_settings().index.replicas == "auto"
    for bad in ("many", "-1", "1.5"):
        monkeypatch.setenv("NEWSFLOW_INDEX__REPLICAS", bad)
        with pytest.raises(SettingsError, match=r"NEWSFLOW_INDEX__REPLICAS=.* write \"auto\""):
            load_settings()


def test_auto_is_one_replica_when_another_data_node_can_hold_it() -> None:
    assert [auto_replicas(n) for n in (0, 1, 2, 3, 5)] == [0, 0, 1, 1, 1]
    assert is_data_node(["data_hot", "ingest"]) and is_data_node(["data", "master"])
    assert not is_data_node(["master", "ingest"])


def test_auto_resolves_to_no_replica_on_the_single_node(make_settings: Any) -> None:
    from newsflow.index.setup import ensure_indices

    settings = make_settings()
    assert settings.index.replicas == "auto"
    client = make_client(settings)
    try:
        assert number_of_replicas(settings, client) == 0
        ensure_indices(client, settings)
        created = client.indices.get_settings(index=settings.index_name("articles"))
        assert {s["settings"]["index"]["number_of_replicas"] for s in created.values()} == {"0"}
        assert client.cluster.health(index=settings.index_name("articles"))["status"] == "green"
        # A number is used as given, without asking the cluster.
        fixed = make_settings(index={"replicas": 2}, es_url="http://127.0.0.1:9")
        assert number_of_replicas(fixed, make_client(fixed)) == 2
    finally:
        from newsflow.index.cleanup import delete_prefix

        delete_prefix(client, settings.index_prefix)
        client.close()


def test_rig_group_lists_the_elasticsearch_commands() -> None:
    from newsflow.cli import cli

    result = CliRunner().invoke(cli, ["rig", "--help"])
    assert result.exit_code == 0, result.output
    for name in ("es-up", "es-down", "es-status", "drill-es"):
        assert name in result.output
    assert "three-node Elasticsearch cluster" in result.output
    drill = CliRunner().invoke(cli, ["rig", "drill-es", "--help"])
    assert "--feeds" in drill.output and "--http-base" in drill.output


@pytest.fixture(scope="module")
def test_cluster(es_url: str) -> Iterator[EsCluster]:
    """A three-node cluster of its own on 9481-9483, sharing the installed distribution."""
    rig_dir = default_home() / "test-rigs" / uuid.uuid4().hex[:8]
    cluster = EsCluster(load_settings(), http_base=TEST_HTTP_BASE, rig_dir=rig_dir, heap="384m")
    try:
        yield cluster
    finally:
        cluster.down()
        shutil.rmtree(rig_dir, ignore_errors=True)


@pytest.mark.drill
@pytest.mark.slow
@pytest.mark.corpus
def test_drill_loses_nothing_when_the_primary_node_stops(test_cluster: EsCluster) -> None:
    from newsflow.dev.drill import DrillOptions, run_drill

    figures = run_drill(load_settings(), test_cluster, DrillOptions(feeds=6))
    print({k: v for k, v in figures.items() if k not in ("health_transitions",)})  # timings, with -s
    assert figures["replicas"] == 1  # auto, on three data nodes
    assert figures["articles_expected"] > 50
    assert figures["articles_distinct"] == figures["articles_expected"]
    assert (figures["lost"], figures["duplicated"]) == (0, 0)
    assert figures["alerts_total"] > 0 and figures["repeated_alerts"] == 0
    assert figures["repeated_alert_ids"] == 0
    assert figures["spool_left"] == 0
    assert figures["cluster_during_outage"] in ("yellow", "red")
    assert figures["cluster_after"] == "green"
    assert figures["ok"]
