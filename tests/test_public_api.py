"""Each package's public names: `__all__` is exactly the list below, every name resolves to the
object its module defines, nothing else public is importable from the package, and importing the
packages themselves stays cheap (their names load on first use). As httpx's tests/test_exported_members.py.

A change to a package's public surface is a change to this list too, on purpose.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from types import ModuleType

import pytest

from tests.conftest import REPO

EXPECTED: dict[str, list[str]] = {
    "newsflow": [
        "Article", "CycleReport", "NewsflowError", "Settings", "__version__", "load_settings", "run_cycle",
    ],
    "newsflow.core": [
        "AlertError", "AlertSettings", "Article", "ConfigError", "DeliveryError", "ElasticsearchUnavailable",
        "Enclosure", "EnrichError", "EnrichSettings", "FeedError", "FeedsFileError", "FetchError",
        "FetchSettings", "IndexError_", "IndexSettings", "NewsflowError", "ParseError", "QueryError",
        "Settings", "StackError", "TopicScore", "article_id_for", "default_home", "format_utc",
        "install_log_redaction", "load_settings", "make_client", "parse_utc", "redact_channel", "redact_text",
        "redact_url", "translate_errors", "utc_now",
    ],
    "newsflow.index": [
        "ArticleStore", "BulkResult", "FacetValue", "IndexNames", "KibanaTarget", "SearchHit", "SearchResult",
        "Spool", "build_query", "delete_prefix", "ensure_indices", "import_saved_objects", "index_document",
        "names_for", "rewrite_entity_fields", "rollover", "search_articles",
    ],
    "newsflow.alerts": [
        "AlertRecord", "AlertRun", "AlertStore", "Channel", "DeliveryFailure", "DeliveryResult",
        "MatchResult",
        "RecordingLock", "Rule", "RuleStore", "alert_id_for", "deliver_pending", "ensure_alert_indices",
        "match_and_deliver", "match_articles", "parse_channel",
    ],
    "newsflow.app": [
        "CycleReport", "Pipeline", "load_feed_specs", "run_cycle", "settings_from_airflow",
    ],
    "ingest": [
        "Classification", "FeedAuth", "FeedHeader", "FeedResult", "FeedSpec", "FeedState", "FeedStateStore",
        "FeedStatus", "ParsedEntry", "ParsedFeed", "StoredArticle", "canonical_url", "classify", "load_feeds",
        "normalise_feed", "parse_feed", "poll_feeds", "select_due", "unique_per_publisher",
    ],
    "enrich": [
        "ENRICHMENT_VERSION", "CandidateLookup", "ElasticsearchCandidates", "Enricher", "StoryCandidate",
        "article_language", "assign_stories", "detect_language", "load_nlp", "ner_text", "story_bands",
        "story_signature",
    ],
}
# Module-level names every lazy __init__ has that are not exports.
HELPERS = {"annotations", "TYPE_CHECKING", "lazy_exports"}
HEAVY = ("elasticsearch", "spacy", "pydantic", "feedparser", "airflow", "numpy", "httpx")


def _static_imports(package: ModuleType) -> dict[str, str]:
    """Name -> module of the `from M import N` statements under `if TYPE_CHECKING:` in the __init__."""
    tree = ast.parse(inspect.getsource(package))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    found.update({alias.asname or alias.name: statement.module for alias in statement.names})
    return found


def _defined_here(package: ModuleType) -> set[str]:
    tree = ast.parse(inspect.getsource(package))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_exported_names_are_exactly_the_expected_ones(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__all__ == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_exported_name_resolves_to_the_object_its_module_defines(name: str) -> None:
    package = importlib.import_module(name)
    static = _static_imports(package)
    exports = set(package.__all__) - {"__version__"}
    # Every export is imported for the type checker (or defined in the __init__ itself).
    assert exports - set(static) - _defined_here(package) == set()
    for export in sorted(exports):
        value = getattr(package, export)
        if export in static and export not in _defined_here(package):
            module = importlib.import_module(static[export])
            assert value is getattr(module, export), (name, export, static[export])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nothing_public_beyond_the_exports(name: str) -> None:
    package = importlib.import_module(name)
    for export in package.__all__:
        getattr(package, export)
    public = {attribute for attribute in dir(package)
              if not attribute.startswith("_") and attribute not in HELPERS
              and not isinstance(getattr(package, attribute), ModuleType)}
    # Names imported only for annotations (`Elasticsearch` in newsflow.alerts) are not attributes.
    assert public == set(package.__all__) - {"__version__"}
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        package.not_a_name  # noqa: B018


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_export_shadows_a_submodule(name: str) -> None:
    """`enrich.reenrich` is a module; exporting the function of that name would make
    `from enrich import reenrich` depend on what was imported before."""
    package = importlib.import_module(name)
    submodules = {info.name for info in pkgutil.iter_modules(package.__path__)}
    assert submodules & set(package.__all__) == set()


def test_the_version_is_the_installed_distributions() -> None:
    import newsflow

    assert newsflow.__version__ == importlib.metadata.version("newsflow")


def test_importing_the_packages_loads_no_dependency() -> None:
    """The CLI's start-up, Airflow's DAG parsing and each enrichment worker import these packages;
    their names load on first use."""
    code = (f"import json, sys\nimport {', '.join(EXPECTED)}\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=env, cwd=REPO).stdout
    assert json.loads(loaded) == []
