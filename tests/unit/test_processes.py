"""Forked worker pools: stopped by `terminate()` whatever SIGTERM handler the CLI installed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from registration.cli.core import _raise_interrupt
from registration.processes import fork_pool

ROOT = Path(__file__).resolve().parents[2]


def _dispositions() -> tuple[object, object]:
    return signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)


def test_workers_take_the_default_signal_handling_not_the_clis():
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with fork_pool(1) as pool:
            in_worker = pool.apply(_dispositions)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert in_worker == (signal.SIG_DFL, signal.SIG_IGN)


def test_pools_terminated_under_the_clis_sigterm_handler_never_hang():
    """With the CLI's handler inherited, this loop hung in 3 runs out of 3 (a worker left
    waiting on the task queue after `terminate()`, the main process joining it forever)."""
    code = textwrap.dedent(
        """
        import signal
        from registration.cli.core import _raise_interrupt
        from registration.processes import fork_pool

        def work(n):
            return sum(range(n))

        signal.signal(signal.SIGTERM, _raise_interrupt)
        for _ in range(200):
            with fork_pool(2) as pool:
                assert list(pool.imap(work, [20_000] * 12)) == [sum(range(20_000))] * 12
        """
    )
    # No pipes: a worker left hanging would hold them open past the timeout.
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        timeout=90,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0
