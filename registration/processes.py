"""Worker processes: how many to use, forking them, errors that travel back.

Shared by the parallel manifest build (`registration.build.parallel`) and the fingerprinting
of registration files (`registration.register.files`).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
from multiprocessing.pool import Pool

from registration.errors import RegisterError


def default_workers() -> int:
    """The CPUs this process may run on (the `--workers` default)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """True where worker processes can be forked (Linux, macOS)."""
    return "fork" in multiprocessing.get_all_start_methods()


def fork_pool(processes: int) -> Pool:
    """A pool of `processes` forked workers, which its `terminate()` always stops.

    The workers go back to the default signal handling: SIGTERM ends them at once, and
    Ctrl-C's SIGINT is left to this process (which stops them). Inherited, the CLI's SIGTERM
    handler (which raises KeyboardInterrupt) could leave a worker waiting on the task queue
    after the pool's `terminate()`, and this process joining it forever (in a loop of pools
    here: within 3 to 175 pools).
    """
    return multiprocessing.get_context("fork").Pool(processes, initializer=_worker_signals)


def _worker_signals() -> None:
    """In each worker, first: SIGTERM ends it, SIGINT is ignored."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def portable(exc: Exception, worker: str = "a worker process") -> Exception:
    """`exc`, or a RegisterError saying the same, if it would not survive the trip to the
    main process (an exception that cannot be unpickled there would hang the pool);
    `worker` names the process in that error."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
    except Exception:  # any failure: send something that travels
        return RegisterError(f"{worker} failed: {type(exc).__name__}: {exc}")
    return exc
