"""Index set-up happens in `newsflow setup`; a cycle only creates what is missing, once per process.

Every request the cycles send to the real Elasticsearch is recorded (the client's transport, wrapped):
the first cycle under a fresh prefix creates the templates, the policy and the indices; a second
cycle in the same process (a second Pipeline, as the next Airflow task would build) sends no
template, policy or index creation at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ingest.types import FeedSpec
from newsflow.app.cycle import Pipeline
from newsflow.app.indices import all_present
from newsflow.core.es import make_client

pytestmark = pytest.mark.es

_SET_UP = ("/_ilm/policy/", "/_index_template/", "/_component_template/", "/_mapping")


@pytest.fixture
def recorded(settings: Any) -> Iterator[tuple[Any, list[tuple[str, str]]]]:
    """A real client whose every request (method, path) is recorded."""
    client = make_client(settings)
    sent: list[tuple[str, str]] = []
    send = client.transport.perform_request

    def record(method: str, target: str, **kwargs: Any) -> Any:
        sent.append((method, target))
        return send(method, target, **kwargs)

    client.transport.perform_request = record  # shared by client.options(...) copies
    yield client, sent
    client.close()


def _set_up_requests(sent: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Requests that put templates, policies or mappings, or create an index."""
    found = []
    for method, target in sent:
        path = target.partition("?")[0]
        creates_index = path.count("/") == 1 and not path.startswith("/_")  # PUT /<index>
        if method == "PUT" and (creates_index or any(part in path for part in _SET_UP)):
            found.append((method, target))
    return found


def test_the_second_cycle_in_a_process_sends_no_template_policy_or_index(
    settings: Any, feed_server: Any, recorded: tuple[Any, list[tuple[str, str]]]
) -> None:
    client, sent = recorded
    specs = [FeedSpec(url=feed_server.url("/world.xml"))]
    assert not all_present(client, settings)  # a fresh prefix

    with Pipeline(settings, client=client) as pipeline:
        first = pipeline.run(specs)
    assert first.indexed > 0 and first.problems == ()
    created = _set_up_requests(sent)
    assert any("/_ilm/policy/" in target for _, target in created)
    assert any("/_index_template/" in target for _, target in created)
    assert all_present(client, settings)

    sent.clear()
    with Pipeline(settings, client=client) as pipeline:
        second = pipeline.run(specs)
    assert second.fetched + second.not_modified == 1 and second.problems == ()
    assert sent, "the second cycle talked to Elasticsearch"
    assert _set_up_requests(sent) == []
    assert not any("/_ilm/" in target or "_template" in target for _, target in sent)


def test_a_pipeline_closes_the_client_it_made_and_leaves_a_given_one_open(settings: Any) -> None:
    with Pipeline(settings) as pipeline:
        made = pipeline.client
        assert made.ping() in (True, False)
    with pytest.raises(Exception):  # noqa: B017 - closed: any request fails
        made.info()

    client = make_client(settings)
    with Pipeline(settings, client=client):
        pass
    assert client.ping()
    client.close()
