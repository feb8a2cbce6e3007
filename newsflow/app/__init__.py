"""The application: one ingestion cycle over the stages (`cycle`), the Airflow tasks the DAGs call
(`tasks`), settings from an Airflow connection (`airflow_settings`) and the local feed-state cache
(`state_cache`).

Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsflow.app.airflow_settings import settings_from_airflow
    from newsflow.app.cycle import Pipeline, load_feed_specs, run_cycle
    from newsflow.app.report import CycleReport

__all__ = [
    "CycleReport",
    "Pipeline",
    "load_feed_specs",
    "run_cycle",
    "settings_from_airflow",
]

if not TYPE_CHECKING:
    from newsflow.core._exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {
        "newsflow.app.airflow_settings": ["settings_from_airflow"],
        "newsflow.app.cycle": ["Pipeline", "load_feed_specs", "run_cycle"],
        "newsflow.app.report": ["CycleReport"],
    })
