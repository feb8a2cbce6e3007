"""Worker processes that die with their parent.

A forked worker (the NER pool of enrich, the feed-parser pool of ingest) holds a copy of the
parent's memory: with the spaCy model, about 0.6 GB each. When the parent is killed (SIGKILL by the
OOM killer or a scheduler, SIGTERM by a task runner) before it could stop its pool, the workers
block for ever on a queue nobody feeds, holding that memory. `die_with_parent` makes them go too:

- on Linux, `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the kernel kills the worker the moment its parent
  dies (a worker holds nothing worth saving: the parent, which would have received its results, is
  gone);
- the parent may have died between the fork and that call (then the signal never comes): the worker
  compares `os.getppid()` with the parent's pid it was given and exits at once if it was re-parented;
- elsewhere (no prctl), a daemon thread does the same comparison every `WATCH_INTERVAL` seconds.

Use it as the pool initializer, with the parent's pid taken in the parent:
`Pool(n, initializer=die_with_parent, initargs=(os.getpid(),))`, or for
`concurrent.futures.ProcessPoolExecutor(initializer=die_with_parent, initargs=(os.getpid(),))`.

Caveat of PR_SET_PDEATHSIG: it fires when the THREAD that forked the worker exits, not only the
process. Create the pool in a thread that outlives it (the pools here are created and closed by the
same call, in the caller's thread).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_INTERVAL = 1.0  # seconds between two checks of the parent where prctl is unavailable


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def die_with_parent(parent_pid: int) -> None:
    """Make this (forked) process exit when the process `parent_pid` dies. See the module docstring.

    It also gives SIGTERM back its default action (exit): a forked worker inherits its parent's
    Python handler, and Airflow's task runner installs one that returns without doing anything in
    any process but the task's own. `Pool.terminate()` (run when the pool's `with` block ends)
    stops the workers with SIGTERM and then joins them, so a worker still waiting for its next
    chunk survived it and the shard task hung in that join for good (seen in `newsflow bench
    --airflow`: the NER pool of a shard, after the shard's last bulk request)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    armed = set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                         name="newsflow-parent-watch").start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)
