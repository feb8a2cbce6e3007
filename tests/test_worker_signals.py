"""A pool worker forked from a process whose SIGTERM handler ignores forked children (Airflow's task
runner) must still stop on SIGTERM: `Pool.terminate()` relies on it, and a worker that survived it
hung the shard task in the pool's join."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from newsflow.core.processes import die_with_parent


@pytest.fixture
def sigterm_ignored_in_children() -> Iterator[None]:
    parent = os.getpid()

    def like_airflows_task_runner(signum: int, frame: Any) -> None:
        if os.getpid() != parent:
            return  # a forked child: nothing happens

    previous = signal.signal(signal.SIGTERM, like_airflows_task_runner)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sigterm_has_its_default_action() -> bool:
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_a_pool_worker_stops_on_sigterm_even_when_its_parent_ignores_it_in_children(
        sigterm_ignored_in_children: None) -> None:
    # Asked inside the worker: killing an idle worker by hand would leave the pool's queue lock
    # taken (an idle worker waits for work holding it), which is not what terminate() does.
    context = multiprocessing.get_context("fork")
    with context.Pool(1, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        assert pool.apply(sigterm_has_its_default_action) is True
