"""A separate process that holds a state file's lock, for tests of `register.lock`.

The lock is the kernel's flock, so the second party must be another process: a thread of
the test would share the test process's hold.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.standin.testing import subprocess_env

HOLD_SCRIPT = """
import sys
from pathlib import Path
from registration.register.lock import hold_state_lock
with hold_state_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def held_by_another_process(state: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the lock of `state` until the block ends (or it is killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(state)],
        env=subprocess_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        yield proc
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
