"""The console-script process tunes the cyclic collector for a batch run."""

from __future__ import annotations

import subprocess
import sys

from registration.cli.core import GC_THRESHOLDS


def test_the_console_script_freezes_the_startup_heap_and_raises_the_thresholds():
    probe = (
        "import gc\n"
        "print(*gc.get_threshold())\n"
        "from registration.cli.core import tune_gc\n"
        "tune_gc()\n"
        "print(*gc.get_threshold())\n"
        "print(gc.get_freeze_count())\n"
    )
    before, after, frozen = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert before == "700 10 10"
    assert after == " ".join(str(n) for n in GC_THRESHOLDS)
    assert int(frozen) > 1000  # the modules loaded so far left the collected heap
