"""A built wheel, installed non-editably, works: it carries its package data and no stray packages,
and its `newsflow run` indexes the sample feeds with the checkout out of reach.

The wheel is built from a copy of the checkout (so no build/ or *.egg-info lands in the worktree),
installed with `pip --no-deps` into a fresh venv; the dependencies come from the project's .venv
through a .pth file that lists its site-packages folder. A .pth path line only adds the folder to
sys.path: the .pth files inside it (the editable install's finder) are not run, so `newsflow` can
only come from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OPT_IN_ENV, REPO, SAMPLES
from tests.support.feedserver import FeedServer

pytestmark = [pytest.mark.slow]

# Not copied into the build: VCS data, environments, caches and earlier build output.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", "node_modules", ".newsflow", "bench-results",
)
TOP_LEVEL_PACKAGES = {"newsflow", "ingest", "enrich"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path  # the fresh venv's interpreter
    newsflow: Path  # its console script
    site_packages: Path


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a process that must not see the checkout: no PYTHONPATH, no NEWSFLOW_*."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"} and not k.startswith("NEWSFLOW_")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("packaging")
    source = root / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=_NOT_SOURCE)
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(dist), str(source)], check=True, cwd=root, env=_clean_env())
    (wheel,) = dist.glob("newsflow-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=_clean_env())
    python = venv / "bin" / "python"
    # pip of the project's .venv installs into the fresh venv (`--python`), before the dependencies
    # are reachable, so it sees no newsflow already installed and touches nothing of the .venv.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, cwd=root, env=_clean_env())
    site_packages = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, env=_clean_env()).stdout.strip())
    dependencies = Path(sysconfig.get_paths()["purelib"]).resolve()  # the project's .venv
    (site_packages / "_newsflow_dependencies.pth").write_text(f"{dependencies}\n")
    return Installed(wheel=wheel, python=python, newsflow=venv / "bin" / "newsflow",
                     site_packages=site_packages)


def test_the_wheel_carries_the_package_data_and_only_the_runtime_packages(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    data = [f"enrich/data/{p.name}" for p in sorted((REPO / "enrich" / "data").iterdir())
            if p.suffix in {".yaml", ".json"}]
    assert len(data) >= 6
    expected = [*data, "newsflow/index/data/saved_objects.ndjson",
                "newsflow/dev/data/es-npm/package.json", "newsflow/dev/data/es-npm/package-lock.json"]
    assert [name for name in expected if name not in names] == []

    top_level = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == TOP_LEVEL_PACKAGES  # no tests/, dags/, plugins/, tools/
    assert not any(name.startswith(("tests/", "dags/", "plugins/")) for name in names)


def test_the_installed_package_is_imported_from_the_venv_not_the_checkout(
        installed: Installed, tmp_path: Path) -> None:
    code = (
        "import importlib.util, json, sys\n"
        "import newsflow, newsflow.cli, ingest, enrich\n"
        "from enrich.topics import DEFAULT_VOCABULARY\n"
        "print(json.dumps({'files': [newsflow.__file__, ingest.__file__, enrich.__file__],\n"
        "  'tests': importlib.util.find_spec('tests') is not None,\n"
        "  'finders': [m for m in sys.modules if 'editable' in m],\n"
        "  'vocabulary': [str(DEFAULT_VOCABULARY), DEFAULT_VOCABULARY.is_file()],\n"
        "  'path': sys.path}))\n"
    )
    found = json.loads(subprocess.run([str(installed.python), "-c", code], check=True, capture_output=True,
                                      text=True, cwd=tmp_path, env=_clean_env()).stdout)
    for file in found["files"]:
        assert Path(file).is_relative_to(installed.site_packages), file
    assert found["vocabulary"] == [str(installed.site_packages / "enrich/data/iptc_mediatopics.json"), True]
    assert found["tests"] is False  # the repository root is not on sys.path
    assert found["finders"] == []  # the editable install's finder is not active
    assert not any(Path(entry).resolve() == REPO.resolve() for entry in found["path"] if entry)


def test_the_installed_cli_runs_a_cycle_over_the_samples(
        installed: Installed, settings: Any, es_client: Any, tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples)
    expected = json.loads((samples / "expected.json").read_text())
    work = tmp_path / "work"  # the cwd: outside the checkout
    work.mkdir()
    env = _clean_env(
        NEWSFLOW_ES_URL=settings.es_url,
        NEWSFLOW_INDEX_PREFIX=settings.index_prefix,
        NEWSFLOW_HOME=str(settings.home),
        NEWSFLOW_FETCH__POLITENESS_DELAY="0",
        **OPT_IN_ENV,  # the feed server listens on 127.0.0.1
    )
    with FeedServer(root=samples / "feeds") as server:
        feeds_file = work / "feeds.yaml"
        # The bundled feeds file with each local path served over HTTP by the feed server.
        bundled = (samples / "feeds.yaml").read_text()
        feeds_file.write_text(bundled.replace("url: feeds/", f"url: {server.url('')}"))
        completed = subprocess.run(
            [str(installed.newsflow), "-q", "run", "--feeds", str(feeds_file), "--json"],
            capture_output=True, text=True, cwd=work, env=env, timeout=600)
        assert completed.returncode == 0, completed.stderr[-3000:]
        assert len(server.requests) >= 5

    report = json.loads(completed.stdout)
    total = expected["total_items"]
    assert report["feeds"] == {"total": 5, "fetched": 5, "not_modified": 0, "failed": 0}
    assert report["articles"] == {"new": total, "updated": 0, "unchanged": 0}
    assert report["indexed"] == total

    alias = settings.index_name("articles")
    es_client.indices.refresh(index=alias)
    hits = es_client.search(index=alias, size=100, query={"match_all": {}})["hits"]["hits"]
    assert {hit["_source"]["url"] for hit in hits} == {item["url"] for item in expected["items"]}
    # Enriched with the package data: entity names through the entity table, IPTC topics.
    assert "European Central Bank" in {org for hit in hits for org in hit["_source"]["organizations"]}
    assert any(hit["_source"]["topics"] for hit in hits)
