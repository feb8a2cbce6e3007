"""Enrichment fixtures: one model load per test session."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def enrich_settings(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from newsflow.core.settings import load_settings

    return load_settings(home=tmp_path_factory.mktemp("enrich-home"), index_prefix="offline",
                         es_url="http://127.0.0.1:9")


@pytest.fixture(scope="session")
def enricher(enrich_settings: Any) -> Any:
    """The Enricher with the real spaCy model, loaded once for the session."""
    from enrich.pipeline import Enricher

    return Enricher(enrich_settings)
