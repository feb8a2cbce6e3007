"""Templates, lifecycle policy, alias and dead-letter index under the prefix: created, and idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from newsflow.index.setup import ensure_indices, names_for, rollover

pytestmark = pytest.mark.es


def test_setup_creates_templates_policy_alias_and_deadletter(es_client: Any, settings: Any) -> None:
    names = names_for(settings)
    ensure_indices(es_client, settings)

    template = es_client.indices.get_index_template(name=names.index_template)["index_templates"][0]
    assert template["index_template"]["index_patterns"] == [f"{settings.index_prefix}-articles-*"]
    assert template["index_template"]["composed_of"] == [names.settings_component, names.mappings_component]
    assert es_client.cluster.exists_component_template(name=names.settings_component)

    policy = es_client.ilm.get_lifecycle(name=names.ilm_policy)[names.ilm_policy]["policy"]
    assert policy["phases"]["hot"]["actions"]["rollover"]["max_age"] == settings.index.rollover_max_age
    assert policy["phases"]["delete"]["min_age"] == settings.index.retention

    aliases = es_client.indices.get_alias(name=names.alias).body
    assert aliases == {names.first_index: {"aliases": {names.alias: {"is_write_index": True}}}}
    index_settings = es_client.indices.get_settings(index=names.first_index)[names.first_index]["settings"]
    assert index_settings["index"]["lifecycle"] == {"name": names.ilm_policy, "rollover_alias": names.alias}

    mapping = es_client.indices.get_mapping(index=names.first_index)[names.first_index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["title"]["fields"]["exact"]["analyzer"] == "news_exact"
    assert mapping["properties"]["i18n"]["properties"]["de"]["analyzer"] == "german"
    assert es_client.indices.exists(index=names.deadletter)


def test_setup_twice_changes_nothing_and_keeps_the_rolled_over_indices(es_client: Any, settings: Any) -> None:
    names = names_for(settings)
    ensure_indices(es_client, settings)
    second_index = rollover(es_client, settings)

    ensure_indices(es_client, settings)

    aliases = es_client.indices.get_alias(name=names.alias).body
    assert aliases == {
        names.first_index: {"aliases": {names.alias: {"is_write_index": False}}},
        second_index: {"aliases": {names.alias: {"is_write_index": True}}},
    }


def test_empty_retention_keeps_indices_forever(es_client: Any, make_settings: Any) -> None:
    settings = make_settings(index={"retention": "", "rollover_max_age": "7d"})
    ensure_indices(es_client, settings)

    name = names_for(settings).ilm_policy
    phases = es_client.ilm.get_lifecycle(name=name)[name]["policy"]["phases"]
    assert "delete" not in phases
    assert phases["hot"]["actions"]["rollover"]["max_age"] == "7d"


def test_two_prefixes_do_not_see_each_other(es_client: Any, make_settings: Any, make_article: Any) -> None:
    from newsflow.index.store import ArticleStore

    first, second = make_settings(), make_settings()
    ArticleStore(es_client, first).write([make_article("only-in-first")])
    ArticleStore(es_client, first).refresh()
    ensure_indices(es_client, second)

    assert ArticleStore(es_client, first).count() == 1
    assert ArticleStore(es_client, second).count() == 0


def test_setup_adds_new_fields_to_indices_made_by_an_older_version(es_client: Any, settings: Any) -> None:
    from newsflow.index.mappings import ANALYSIS, ARTICLE_PROPERTIES

    names = names_for(settings)
    older = {name: spec for name, spec in ARTICLE_PROPERTIES.items() if name not in ("truncated", "i18n")}
    es_client.indices.create(
        index=names.first_index, settings={"analysis": ANALYSIS},
        mappings={"dynamic": "strict", "properties": older},
        aliases={names.alias: {"is_write_index": True}},
    )

    ensure_indices(es_client, settings)

    mapping = es_client.indices.get_mapping(index=names.first_index)[names.first_index]["mappings"]
    properties = mapping["properties"]
    assert properties["truncated"] == {"type": "boolean"}
    assert properties["i18n"]["properties"]["fr"]["analyzer"] == "french"
