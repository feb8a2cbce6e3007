"""A `newsflow` command killed mid-delivery: the SIGKILL tests of digests and volume rules."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.feedserver import FeedServer


def kill_cli_at_first_request(args: Sequence[str], env: Mapping[str, str], server: FeedServer,
                              path: str, stderr_file: Path, timeout: float = 60.0) -> int:
    """Run `python -m newsflow ARGS`, SIGKILL it as soon as `server` has a request to `path` (a
    channel's send under way) and return its exit status; fails, with its stderr, if no request came."""
    with stderr_file.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "newsflow", *args], env=dict(env),
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + timeout
            while not server.requests_to(path) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.requests_to(path), stderr_file.read_text()
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=30)
    return process.returncode
