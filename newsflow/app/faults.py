"""Fault injection for the crash-safety tests (tests/test_fault_tolerance.py).

When NEWSFLOW_FAULT_POINT names one of FAULT_POINTS, the process kills itself with SIGKILL when the
cycle reaches that point: a real crash, as the OOM killer or a node loss would cause.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

FAULT_POINTS = ("after_fetch", "after_enrich", "after_index", "after_feed_state", "after_match")


def fault_point(name: str) -> None:
    """Die here (SIGKILL) if NEWSFLOW_FAULT_POINT is `name`; otherwise nothing."""
    if os.environ.get("NEWSFLOW_FAULT_POINT") == name:
        log.warning("fault injection: SIGKILL at %s", name)
        os.kill(os.getpid(), signal.SIGKILL)
