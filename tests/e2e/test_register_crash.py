"""Crash safety: the CLI is SIGKILLed at chosen instants, then re-run; nothing is lost or doubled.

The stand-in holds one request at a chosen point (before it takes effect, or after it
took effect but before the answer leaves) and the test kills the client while it waits.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin import FaultPlan, Hold
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


# -- Encord running jobs side by side ----------------------------------------------------------
# Each run first loses the answer of one start (the job exists; the helper never hears of it),
# then is SIGKILLed at one of these points; the stand-in runs overlapping jobs concurrently and
# injects 20% transient faults throughout (seeded).
CHAOS_KILLS = [
    ("start", "after", 1),  # a re-send took effect, its answer never arrives either
    ("items", "before", 0),  # while recording what the folder holds / listing for duplicates
    ("delete_items", "before", 0),  # the removal is planned, not done
    ("delete_items", "after", 0),  # the duplicates are gone, the state does not know yet
    ("poll", "after", 1),  # a job finished, the answer is lost with the process
]
CHAOS_FAULTS = FaultPlan(
    rate_429=0.06,
    rate_500=0.06,
    rate_drop=0.05,
    rate_slow=0.03,
    slow_seconds=0.05,
    drop_routes=frozenset({"start", "items", "delete_items", "create_folder", "list_folders"}),
    seed=20,
)


def _run_until_held(env: EncordEnv, manifests: Path, hold: Hold, *extra: str) -> bool:
    """Run the CLI; SIGKILL it once `hold` catches a request. False if it ended first."""
    proc = _start(env, manifests, *extra)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if hold.reached.wait(0.05):
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=20)
                return True
            if proc.poll() is not None:
                return False
        raise AssertionError(f"neither held nor finished: {proc.communicate(timeout=5)}")
    finally:
        hold.release()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_a_run_killed_between_planning_and_removing_reports_what_it_registered(tmp_path):
    manifests = tmp_path / "m"
    urls = image_urls("kept", 4)
    write_manifest(manifests, 1, images=urls)  # skip_duplicate_urls off in the file
    with encord_env(tmp_path, job_latency=0.4, max_poll_hold=0.2, concurrent_jobs=True) as env:
        env.standin.lose_answers("start", 1)
        assert _run_until_held(env, manifests, env.standin.hold("delete_items", "before", 0))
        report = tmp_path / "report.json"

        assert main(env.args(manifests, FOLDER, "--jobs", "1", "--report", str(report))) == 0

        items = env.items(FOLDER)
        assert Counter(url for item in items for url in item["urls"]) == Counter(urls)
        (entry,) = json.loads(report.read_text())["files"]
        # The lost job's items were kept: the resumed run counts them as registered.
        assert (entry["registered"], entry["skipped_duplicates"]) == (4, 0)
        assert sorted(entry["item_uuids"]) == sorted(item["uuid"] for item in items)
        assert len(entry["removed_duplicates"]) == 4


def test_concurrent_jobs_faults_and_sigkills_register_every_object_exactly_once(tmp_path):
    manifests = tmp_path / "m"
    urls: list[str] = []
    for i in range(1, 7):
        group = image_urls(f"chaos{i}", 3)
        urls += group
        write_manifest(manifests, i, images=group)  # skip_duplicate_urls off in the files
    with encord_env(tmp_path, job_latency=0.4, max_poll_hold=0.2, concurrent_jobs=True) as env:
        env.standin.set_faults(CHAOS_FAULTS)
        killed = 0
        for route, phase, skip in CHAOS_KILLS:
            env.standin.lose_answers("start", 1)
            hold = env.standin.hold(route, phase, skip)
            killed += _run_until_held(env, manifests, hold, "--max-retries", "12")
        assert killed >= 3
        env.standin.lose_answers("start", 1)
        report = tmp_path / "report.json"

        code = main(
            env.args(
                manifests, FOLDER, "--jobs", "2", "--max-retries", "12", "--report", str(report)
            )
        )

        assert code == ExitStatus.OK
        counts = Counter(url for item in env.items(FOLDER) for url in item["urls"])
        assert counts == Counter(urls)
        jobs = env.standin.jobs()
        assert sum(j["itemsCreated"] for j in jobs) > len(urls)  # the race did happen
        data = json.loads(report.read_text())
        assert data["totals"]["removed_duplicates"] == sum(j["itemsCreated"] for j in jobs) - len(
            urls
        )
        kept = {item["uuid"] for item in env.items(FOLDER)}
        assert all(r["kept"] in kept for f in data["files"] for r in f["removed_duplicates"])
        # Every unit counted once; every item reported registered exists, once.
        registered = [uid for f in data["files"] for uid in f["item_uuids"]]
        assert len(registered) == len(set(registered)) == data["totals"]["registered"]
        assert set(registered) <= kept
        for f in data["files"]:
            assert (
                f["registered"] + f["skipped_duplicates"] + len(f["failed"]) + f["cancelled"]
                == f["units"]
            ), f
