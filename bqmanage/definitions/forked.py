"""Share pure, per-item work with a forked child: the second core of a small machine.

Used where one command does the same CPU-bound work on many independent items, as the loader
does on a warehouse's dataset directories (parse and validate each file: 500 datasets were 1.5 s
of one core). The child computes the second part and sends its results back pickled; the order
of the results is the order of the items, so the outcome is the one a single process gives.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# The parent also unpickles the child's results, so it takes a little less than half.
PARENT_SHARE = 0.45


def may_fork(variable: str) -> bool:
    """Whether a second process can help: two cores, fork, no threads to lose, and not ``variable=1``."""
    return (
        (os.cpu_count() or 1) >= 2 and hasattr(os, "fork") and threading.active_count() == 1 and os.environ.get(variable) != "1"
    )


def map_in_two(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[func(item) for item in items]``, a part of it in a forked child.

    ``func`` must be pure and print nothing; its results must pickle. If the child dies without
    answering (or ``func`` raised there), its part is computed here: an exception is then raised
    where a single process would raise it.
    """
    import pickle  # here: the definitions of most warehouses are read in one process, without it

    cut = int(len(items) * PARENT_SHARE)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its part, then leave at once
        status = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump([func(item) for item in items[cut:]], out, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)  # no atexit handlers, no flushing of the parent's buffers
    os.close(write_end)
    pipe = os.fdopen(read_end, "rb")
    answered = False
    try:
        mine = [func(item) for item in items[:cut]]
        payload = pipe.read()
        answered = True
    finally:
        pipe.close()
        if not answered:  # interrupted, or func raised here: the child's work is not wanted
            os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    if status != 0:  # the child failed or was stopped part-way: its answer, if any, is not whole
        return mine + [func(item) for item in items[cut:]]
    theirs: list[R] = pickle.loads(payload)  # our own forked child's answer, never outside data
    return mine + theirs
