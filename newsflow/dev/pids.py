"""Processes the local stack starts (Elasticsearch, PostgreSQL, Redis, Airflow), known by PID only:
is one still running, and does a pid file still name our program (PIDs are reused)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether `pid` runs: it exists and is not a zombie (our own child not yet waited for)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody else's process: it exists
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False  # gone between the signal and the read


def pid_from_file(pid_file: Path, program: bytes) -> int | None:
    """The PID in `pid_file` if that process runs and its command line names `program`; a stale pid
    file (no such process, or the PID reused by something else) is removed and None returned."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return None
    except PermissionError:
        return pid
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and program not in cmdline.read_bytes():
        pid_file.unlink(missing_ok=True)  # the PID was reused by something else
        return None
    return pid


def stop_process(pid: int, what: str, timeout: float, say: Callable[[str], None],
         first: signal.Signals = signal.SIGTERM, last: signal.Signals = signal.SIGKILL) -> None:
    """Stop process `pid` (`what`, for the message): signal `first`, wait up to `timeout` seconds
    for it to end, else say so and signal `last` and wait; reaped if it is our own child."""
    os.kill(pid, first)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        say(f"{what} (pid {pid}) did not stop in {timeout:.0f}s after {first.name}; sending {last.name}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, last)
        while alive(pid):
            time.sleep(0.1)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
