"""The PostgreSQL cluster behind Airflow's metadata database: where it listens, who it is, how a
stale pid file is told apart from our postmaster."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from newsflow.dev.local_postgres import LocalPostgres, is_postmaster_of

pytestmark = pytest.mark.airflow


def test_the_session_metadata_database_is_postgres_over_a_unix_socket_only(
    metadata_database: LocalPostgres, airflow_db: None
) -> None:
    from airflow.settings import engine

    assert engine is not None and engine.dialect.name == "postgresql"
    assert metadata_database.psql("SHOW listen_addresses").strip() == ""  # no TCP listener at all
    assert metadata_database.psql("SHOW unix_socket_directories").strip() == str(metadata_database.socket_dir)
    assert (metadata_database.socket_dir / ".s.PGSQL.5432").is_socket()
    pid = metadata_database.pid()
    assert pid is not None
    if os.geteuid() == 0:  # PostgreSQL refuses root: the server runs as its own system user
        assert Path(f"/proc/{pid}").stat().st_uid != 0


def test_a_postmaster_is_recognised_by_its_binary_and_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert is_postmaster_of(b"/usr/lib/postgresql/15/bin/postgres\0-D\0" + str(data).encode() + b"\0", data)
    assert not is_postmaster_of(b"/usr/lib/postgresql/15/bin/postgres\0-D\0/var/lib/other\0", data)
    assert not is_postmaster_of(b"sleep\0600\0", data)
    assert not is_postmaster_of(b"", data)


def test_a_stale_postmaster_pid_naming_an_unrelated_live_process_is_removed_and_spared(
    tmp_path: Path,
) -> None:
    postgres = LocalPostgres(tmp_path / "pg")
    postgres.data_dir.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (postgres.data_dir / "postmaster.pid").write_text(f"{bystander.pid}\n{postgres.data_dir}\n")
        assert postgres.pid() is None
        assert not (postgres.data_dir / "postmaster.pid").exists()
        assert postgres.down() is False
        assert bystander.poll() is None  # still alive: never signalled
    finally:
        bystander.kill()
        bystander.wait()
