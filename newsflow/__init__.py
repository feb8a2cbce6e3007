"""newsflow: poll news feeds, enrich the articles (entities, topics, stories), index them in
Elasticsearch and alert once per story on saved queries.

The packages, lowest layer first (docs/architecture.md): `newsflow.core` (article model, settings,
errors, the Elasticsearch client), the stages `ingest` and `enrich`, `newsflow.index`,
`newsflow.alerts`, the application `newsflow.app` (the cycle, Airflow tasks), `newsflow.dev` (benchmark,
evaluation, local stack) and `newsflow.cli`. The most used names are re-exported here:

    from newsflow import load_settings, run_cycle
    report = run_cycle(load_settings(), Path("feeds.yaml"))

Names are imported on first use, so `import newsflow` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsflow.app.cycle import run_cycle
    from newsflow.app.report import CycleReport
    from newsflow.core.errors import NewsflowError
    from newsflow.core.models import Article
    from newsflow.core.settings import Settings, load_settings

    __version__: str  # the installed distribution's version

__all__ = [
    "Article",
    "CycleReport",
    "NewsflowError",
    "Settings",
    "__version__",
    "load_settings",
    "run_cycle",
]

if not TYPE_CHECKING:
    from newsflow.core._exports import lazy_exports

    _exported, __dir__ = lazy_exports(__name__, {
        "newsflow.app.cycle": ["run_cycle"],
        "newsflow.app.report": ["CycleReport"],
        "newsflow.core.errors": ["NewsflowError"],
        "newsflow.core.models": ["Article"],
        "newsflow.core.settings": ["Settings", "load_settings"],
    })

    def __getattr__(name: str) -> object:
        if name == "__version__":
            from importlib.metadata import version

            return version("newsflow")
        return _exported(name)
