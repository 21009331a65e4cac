"""Crash safety: the CLI is SIGKILLed at chosen instants, then re-run; nothing is lost or doubled.

The stand-in holds one request at a chosen point (before it takes effect, or after it
took effect but before the answer leaves) and the test kills the client while it waits.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin.testing import (
    EncordEnv,
    cli_command,
    encord_env,
    image_urls,
    subprocess_env,
    write_manifest,
)

pytestmark = pytest.mark.e2e
FOLDER = "crash/test"
FILES = 3
PER_FILE = 4

# (route, phase, skip): which request is held when the client is killed.
KILL_POINTS = {
    "while resolving the folder": ("list_subfolders", "before", 0),
    "after the folder was created, before the answer": ("create_folder", "after", 1),
    "before a start takes effect": ("start", "before", 1),
    "between start and the state write": ("start", "after", 1),
    "while polling": ("poll", "before", 0),
    "after the job finished, before the poll answer": ("poll", "after", 1),
}


def _manifests(tmp_path: Path) -> tuple[Path, list[str]]:
    out = tmp_path / "m"
    urls: list[str] = []
    for i in range(1, FILES + 1):
        group = image_urls(f"cam{i}", PER_FILE)
        urls += group
        # skip_duplicate_urls off in the files: exactly-once must come from the helper.
        write_manifest(out, i, images=group)
    return out, urls


def _start(env: EncordEnv, manifests: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cli_command(*env.args(manifests, FOLDER, "--jobs", "1", *extra)),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("point", list(KILL_POINTS), ids=list(KILL_POINTS))
def test_sigkill_then_rerun_registers_everything_exactly_once(tmp_path, point):
    route, phase, skip = KILL_POINTS[point]
    manifests, urls = _manifests(tmp_path)
    with encord_env(tmp_path, job_latency=0.2, max_poll_hold=0.3) as env:
        hold = env.standin.hold(route, phase, skip)
        proc = _start(env, manifests)
        try:
            assert hold.wait_reached(timeout=60), proc.communicate(timeout=5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=20)
        finally:
            hold.release()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        report = tmp_path / "report.json"

        assert main(env.args(manifests, FOLDER, "--jobs", "1", "--report", str(report))) == 0

        counts = Counter(url for item in env.items(FOLDER) for url in item["urls"])
        assert counts == Counter(urls), point
        assert len([f for f in env.standin.folders() if f["path"] == FOLDER]) == 1
        data = json.loads(report.read_text())
        assert data["totals"]["registered"] + data["totals"]["skipped_duplicates"] >= len(urls)
        if (route, phase) == ("start", "after"):
            # The unanswered job did register; the re-send was told to skip duplicates.
            resent = [j for j in env.standin.jobs() if j["skipDuplicateUrls"]]
            assert resent and resent[0]["itemsCreated"] == 0
            assert any(f["forced_skip_duplicates"] for f in data["files"])


def test_ctrl_c_stops_cleanly_and_the_rerun_finishes(tmp_path):
    manifests, urls = _manifests(tmp_path)
    with encord_env(tmp_path, job_latency=0.2, max_poll_hold=0.3) as env:
        hold = env.standin.hold("poll", "before", 1)
        report = tmp_path / "interrupted.json"
        proc = _start(env, manifests, "--report", str(report))
        try:
            assert hold.wait_reached(timeout=60)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            hold.release()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        assert proc.returncode == ExitStatus.INTERRUPTED
        assert b"interrupted" in err and b"Traceback" not in err
        data = json.loads(report.read_text())
        assert data["interrupted"] is True
        assert any(f["state"] == "in_flight" for f in data["files"])

        assert main(env.args(manifests, FOLDER, "--jobs", "1")) == ExitStatus.OK

        counts = Counter(url for item in env.items(FOLDER) for url in item["urls"])
        assert counts == Counter(urls)


def test_two_crashes_in_a_row_still_register_everything_once(tmp_path):
    manifests, urls = _manifests(tmp_path)
    with encord_env(tmp_path, job_latency=0.2, max_poll_hold=0.3) as env:
        # First run dies right after its second start took effect; the second run dies
        # right after the re-send of that file took effect (both answers never arrive).
        for skip in (1, 0):
            hold = env.standin.hold("start", "after", skip)
            proc = _start(env, manifests)
            try:
                assert hold.wait_reached(timeout=60)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=20)
            finally:
                hold.release()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)

        assert main(env.args(manifests, FOLDER, "--jobs", "1")) == ExitStatus.OK

        counts = Counter(url for item in env.items(FOLDER) for url in item["urls"])
        assert counts == Counter(urls)
        assert sum(1 for j in env.standin.jobs() if j["skipDuplicateUrls"]) >= 2
