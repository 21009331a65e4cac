"""Worker processes: how many to use, whether they can be forked here, errors that travel back.

Shared by the parallel manifest build (`registration.build.parallel`) and the fingerprinting
of registration files (`registration.register.files`).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle

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


def portable(exc: Exception, worker: str = "a worker process") -> Exception:
    """`exc`, or a RegisterError saying the same, if it would not survive the trip to the
    main process (an exception that cannot be unpickled there would hang the pool);
    `worker` names the process in that error."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
    except Exception:  # any failure: send something that travels
        return RegisterError(f"{worker} failed: {type(exc).__name__}: {exc}")
    return exc
