"""Where the development tooling finds the checkout and the shared corpus.

Runtime code never reads files by repository-relative paths (package data goes through
importlib.resources); only these tools, which work on a checkout (the DAG and plugin folders a local
Airflow is pointed at, the corpus a benchmark reads), need to know where it is.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The newsflow checkout: $NEWSFLOW_PROJECT_DIR, else the one this package was installed from
    (an editable install), else the current directory (a wheel used from inside a checkout)."""
    configured = os.environ.get("NEWSFLOW_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    source = Path(__file__).resolve().parents[2]
    if (source / "pyproject.toml").is_file() and (source / "dags").is_dir():
        return source
    return Path.cwd().resolve()


def shared_dir() -> Path:
    """The read-only shared folder (corpus, notes): $NEWSFLOW_SHARED_DIR, else ../shared beside
    the checkout."""
    configured = os.environ.get("NEWSFLOW_SHARED_DIR")
    return Path(configured) if configured else project_dir().parent / "shared"
