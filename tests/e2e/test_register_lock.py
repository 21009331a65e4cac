"""Two `register` runs on one state file: one proceeds, the other stops at once naming it.

Real processes (`python -m registration register`) against the stand-in: the first run
to take the state file's lock is held at its first call to Encord while the other one
tries, so the two overlap for certain whichever of them starts first.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from registration.register.spec import STATE_DIR, STATE_FILE
from tests.lock_holder import held_by_another_process
from tests.standin.testing import (
    EncordEnv,
    cli_command,
    encord_env,
    image_urls,
    subprocess_env,
    write_manifest,
)

pytestmark = pytest.mark.e2e
FOLDER = "lock/test"
FILES = 5
PER_FILE = 2


def _manifests(tmp_path: Path) -> tuple[Path, list[str]]:
    out = tmp_path / "m"
    urls: list[str] = []
    for i in range(1, FILES + 1):
        group = image_urls(f"cam{i}", PER_FILE)
        urls += group
        write_manifest(out, i, images=group)  # skip_duplicate_urls off: no help from Encord
    return out, urls


def _start(env: EncordEnv, manifests: Path, report: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_command(*env.args(manifests, FOLDER, "--report", str(report))),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_to_exit(procs: list[subprocess.Popen[str]], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [n for n, p in enumerate(procs) if p.poll() is not None]
        if done:
            return done
        time.sleep(0.05)
    return []


def test_two_runs_at_once_register_everything_once_in_one_folder(tmp_path):
    manifests, urls = _manifests(tmp_path)
    reports = [tmp_path / "report-0.json", tmp_path / "report-1.json"]
    with encord_env(tmp_path, job_latency=0.05) as env:
        first_call = env.standin.hold("integrations", "before")
        procs = [_start(env, manifests, report) for report in reports]
        try:
            assert first_call.wait_reached(timeout=60)
            # The lock holder waits at its first call; the other one must stop by itself.
            exited = _first_to_exit(procs, timeout=60)
            calls_meanwhile = sum(env.standin.requests_seen.values())
        finally:
            first_call.release()
            outputs = [p.communicate(timeout=120) for p in procs]
        assert len(exited) == 1, outputs
        loser = exited[0]
        winner = 1 - loser
        assert procs[loser].returncode == ExitStatus.USAGE, outputs[loser]
        assert procs[winner].returncode == ExitStatus.OK, outputs[winner]
        assert calls_meanwhile == 1  # the held call of the holder: the other made none

        err = outputs[loser][1]
        state = manifests / STATE_DIR / STATE_FILE
        assert f"the state file {state} is in use by another run of encord-register" in err
        assert f"pid {procs[winner].pid} on host {socket.gethostname()}, started 20" in err
        assert "Traceback" not in err
        assert not reports[loser].exists()

        assert [f["path"] for f in env.standin.folders()].count(FOLDER) == 1
        assert Counter(url for item in env.items(FOLDER) for url in item["urls"]) == Counter(urls)
        totals = json.loads(reports[winner].read_text())["totals"]
        assert totals["units"] == len(urls) and totals["registered"] == len(urls)
        assert not (state.parent / (STATE_FILE + ".lock")).exists()


def test_a_lock_left_by_a_killed_run_is_recovered_and_the_rerun_finishes(tmp_path, capsys):
    manifests, urls = _manifests(tmp_path)
    lock_file = manifests / STATE_DIR / (STATE_FILE + ".lock")
    with encord_env(tmp_path, job_latency=0.05) as env:
        started = env.standin.hold("start", "after", 1)
        proc = _start(env, manifests, tmp_path / "killed.json")
        try:
            assert started.wait_reached(timeout=60)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=20)
        finally:
            started.release()
            proc.communicate(timeout=20)
        assert json.loads(lock_file.read_text())["pid"] == proc.pid  # left behind, not held

        assert main(env.args(manifests, FOLDER)) == ExitStatus.OK

        err = capsys.readouterr().err
        assert f"recovered the lock of {manifests / STATE_DIR / STATE_FILE} left by pid " in err
        assert f"pid {proc.pid} on host {socket.gethostname()}" in err
        assert Counter(url for item in env.items(FOLDER) for url in item["urls"]) == Counter(urls)
        assert not lock_file.exists()


def test_a_refused_run_lists_no_bucket_and_reads_no_schema(tmp_path, capsys, no_aws_credentials):
    # Built from a bucket with --schema encord: listing S3 and reading Encord's schema come
    # before the folder; a refused run must do neither (nor build into the shared directory).
    state = tmp_path / "state" / "register-state.sqlite"
    with encord_env(tmp_path) as env, held_by_another_process(state) as holder:
        args = [
            "register", "--bucket", "demo-bucket", "--state", str(state),
            "--schema", "encord", "--ssh-key-file", str(env.key_file),
            "--encord-domain", env.standin.domain, "--integration", env.integration_title,
            "--folder", FOLDER,
        ]  # fmt: skip
        assert main(args) == ExitStatus.USAGE
        assert sum(env.standin.requests_seen.values()) == 0
    err = capsys.readouterr().err
    assert f"pid {holder.pid} on host {socket.gethostname()}" in err
    assert sorted(p.name for p in state.parent.iterdir()) == []
