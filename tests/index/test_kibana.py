"""The shipped Kibana objects (structure, references, prefix rewriting) and the importer, against a
real local HTTP server that records what it receives (Kibana itself cannot be installed here)."""

from __future__ import annotations

import base64
import json
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from newsflow.cli import cli
from newsflow.core.errors import KibanaError
from newsflow.index.kibana import SAVED_OBJECTS, KibanaTarget, for_prefix, import_saved_objects, parse_ndjson
from newsflow.index.mappings import ARTICLE_PROPERTIES
from tests.support.feedserver import RecordedRequest, Response

SHIPPED = SAVED_OBJECTS.read_text(encoding="utf-8")
OK = Response(200, json.dumps({"success": True, "successCount": 9}).encode(),
              {"Content-Type": "application/json"})


def _objects(prefix: str = "news") -> dict[str, dict[str, Any]]:
    return {obj["id"]: obj for obj in parse_ndjson(for_prefix(SHIPPED, prefix))}


def test_the_data_view_is_the_articles_alias_with_published_at_as_time_field() -> None:
    [view] = [o for o in _objects().values() if o["type"] == "index-pattern"]

    assert view["attributes"]["title"] == "news-articles"
    assert view["attributes"]["timeFieldName"] == "published_at"


def test_the_saved_search_shows_contract_fields_newest_first() -> None:
    search = _objects()["news-latest-articles"]

    assert set(search["attributes"]["columns"]) <= set(ARTICLE_PROPERTIES)
    assert {"title", "source", "persons", "topics", "story_id"} <= set(search["attributes"]["columns"])
    assert search["attributes"]["sort"] == [["published_at", "desc"]]


def test_the_visualizations_aggregate_existing_keyword_fields() -> None:
    visualizations = [o for o in _objects().values() if o["type"] == "visualization"]
    fields = set()
    for vis in visualizations:
        state = json.loads(vis["attributes"]["visState"])
        fields |= {agg["params"]["field"] for agg in state["aggs"] if "field" in agg["params"]}
    assert fields == {"published_at", "persons", "organizations", "locations", "topics", "source", "credit",
                      "distributor"}
    for field in fields - {"published_at"}:
        assert ARTICLE_PROPERTIES[field]["type"] == "keyword"


def test_the_trending_panels_are_significant_terms_on_the_trend_fields() -> None:
    from newsflow.index.trends import TREND_FIELDS

    objects = _objects()
    for field in ("persons", "topics"):
        vis = objects[f"news-trending-{field}"]
        aggs = json.loads(vis["attributes"]["visState"])["aggs"]
        [bucket] = [agg for agg in aggs if agg["schema"] == "bucket"]
        assert bucket["type"] == "significant_terms" and bucket["params"]["field"] == field in TREND_FIELDS
        assert vis["references"][0]["id"] == "news-articles"
        assert any(ref["id"] == vis["id"] for ref in objects["news-overview"]["references"])


def test_the_map_plots_the_articles_geo_points() -> None:
    places = _objects()["news-places-map"]
    [layer] = [layer for layer in json.loads(places["attributes"]["layerListJSON"])
               if layer["sourceDescriptor"].get("geoField")]

    assert ARTICLE_PROPERTIES[layer["sourceDescriptor"]["geoField"]]["type"] == "geo_point"
    assert places["references"][0]["id"] == "news-articles"


def test_the_dashboard_panels_resolve_to_shipped_objects() -> None:
    objects = _objects()
    dashboard = objects["news-overview"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    references = {ref["name"]: ref for ref in dashboard["references"]}

    assert len(panels) == 9
    for panel in panels:
        reference = references[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert objects[reference["id"]]["type"] == reference["type"] == panel["type"]
    for obj in objects.values():  # every reference points at an object in the file
        for ref in obj["references"]:
            assert objects[ref["id"]]["type"] == ref["type"]


def test_rewriting_the_prefix_moves_every_id_and_index_name() -> None:
    objects = _objects("t9-x")

    assert set(objects) == {oid.replace("news-", "t9-x-", 1) for oid in _objects()}
    assert objects["t9-x-articles"]["attributes"]["title"] == "t9-x-articles"
    assert "news-" not in for_prefix(SHIPPED, "t9-x")
    assert "newsflow: overview" in for_prefix(SHIPPED, "t9-x")  # titles are not names


def _uploaded_file(request: RecordedRequest) -> str:
    message = BytesParser(policy=default_policy).parsebytes(
        b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + request.body)
    [part] = list(message.iter_parts())
    assert part.get_param("name", header="content-disposition") == "file"
    return part.get_content() if isinstance(part.get_content(), str) else part.get_content().decode()


def test_import_posts_the_ndjson_with_kbn_xsrf_and_basic_auth(feed_server: Any) -> None:
    feed_server.route("/api/saved_objects/_import", OK)
    target = KibanaTarget(url=feed_server.base_url, username="elastic", password=SecretStr("s3cret"))

    result = import_saved_objects(target, for_prefix(SHIPPED, "abc"))

    [request] = feed_server.requests_to("/api/saved_objects/_import")
    assert request.method == "POST"
    assert request.path.endswith("?overwrite=true")
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"elastic:s3cret").decode()
    assert _uploaded_file(request) == for_prefix(SHIPPED, "abc")
    assert result.success_count == 9
    assert "s3cret" not in repr(target)


def test_import_with_an_api_key_into_a_space(feed_server: Any) -> None:
    feed_server.route("/s/news-room/api/saved_objects/_import", OK)

    import_saved_objects(KibanaTarget(url=feed_server.base_url, api_key=SecretStr("a2V5"), space="news-room"),
                         SHIPPED)

    [request] = feed_server.requests_to("/s/news-room/api/saved_objects/_import")
    assert request.headers["Authorization"] == "ApiKey a2V5"


def test_refusals_become_kibana_errors_that_say_what_to_do(feed_server: Any) -> None:
    feed_server.route("/api/saved_objects/_import", Response(401, b'{"message":"unauthorized"}'))
    with pytest.raises(KibanaError, match="NEWSFLOW_KIBANA_USER"):
        import_saved_objects(KibanaTarget(url=feed_server.base_url), SHIPPED)

    partial = {"success": False, "successCount": 8,
               "errors": [{"id": "news-overview", "type": "dashboard",
                           "error": {"type": "missing_references"}}]}
    feed_server.route("/api/saved_objects/_import", Response(200, json.dumps(partial).encode()))
    with pytest.raises(KibanaError, match="dashboard/news-overview: missing_references"):
        import_saved_objects(KibanaTarget(url=feed_server.base_url), SHIPPED)


def test_an_unreachable_kibana_is_a_kibana_error() -> None:
    with pytest.raises(KibanaError, match="could not be reached"):
        import_saved_objects(KibanaTarget(url="http://127.0.0.1:9", timeout=2), SHIPPED)


def test_the_cli_imports_under_the_configured_prefix(
    feed_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    feed_server.route("/api/saved_objects/_import", OK)
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", "desk")
    monkeypatch.setenv("NEWSFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("NEWSFLOW_KIBANA_URL", feed_server.base_url)
    monkeypatch.setenv("NEWSFLOW_KIBANA_USER", "elastic")
    monkeypatch.setenv("NEWSFLOW_KIBANA_PASSWORD", "hunter2")

    outcome = CliRunner().invoke(cli, ["kibana", "import"])

    assert outcome.exit_code == 0, outcome.output
    assert "imported 9 saved object(s)" in outcome.stdout
    assert "/app/dashboards#/view/desk-overview" in outcome.stdout
    assert "hunter2" not in outcome.output
    [request] = feed_server.requests_to("/api/saved_objects/_import")
    assert '"title":"desk-articles"' in _uploaded_file(request)
