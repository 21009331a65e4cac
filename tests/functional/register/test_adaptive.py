"""Adaptive file size: `register` building the files itself sends files cut from them, small at
first and growing while Encord's time per item falls; every item exactly once, resumable."""

from __future__ import annotations

import functools
import json
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from registration.register import run
from registration.register.adaptive import SizeController
from tests.standin.testing import (
    EncordEnv,
    cli_command,
    encord_env,
    image_urls,
    subprocess_env,
    write_manifest,
)

pytestmark = pytest.mark.usefixtures("offline_aws")
BUCKET, REGION = "demo-bucket", "eu-west-1"
BASE = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/"


def _keys(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "keys.jsonl"
    path.write_text(
        "".join(json.dumps({"key": f"cam/img-{n:05d}.jpg"}) + "\n" for n in range(count))
    )
    return path


def _args(env: EncordEnv, tmp_path: Path, folder: str, keys: Path, *extra: str) -> list[str]:
    args = env.args(tmp_path, folder, "--state", str(tmp_path / "state" / "s.sqlite"), *extra)
    at = args.index("--manifests")
    del args[at : at + 2]
    return [*args, "--keys-file", str(keys), "--trust-keys", "--bucket", BUCKET, "--region", REGION]


def _counts(env: EncordEnv, folder: str) -> Counter[str]:
    return Counter(url for item in env.items(folder) for url in item["urls"])


def _cuts(tmp_path: Path) -> list[tuple[int, int, int]]:
    db = sqlite3.connect(tmp_path / "state" / "s.sqlite")
    try:
        return db.execute("SELECT start, stop, unit_count FROM cuts ORDER BY id").fetchall()
    finally:
        db.close()


def _expected(count: int) -> Counter[str]:
    return Counter(f"{BASE}cam/img-{n:05d}.jpg" for n in range(count))


def test_files_start_small_and_grow_and_every_item_is_registered_once(tmp_path, monkeypatch):
    monkeypatch.setattr(
        run, "SizeController", functools.partial(SizeController, start=4, minimum=1)
    )
    keys = _keys(tmp_path, 60)
    report = tmp_path / "report.json"
    # A fixed cost per job and a cost per item: the larger the file, the less time per item.
    with encord_env(tmp_path, job_latency=0.1, job_latency_per_item=0.001) as env:
        args = _args(env, tmp_path, "adapt/grow", keys, "--max-items", "40", "--jobs", "1")
        assert main([*args, "--report", str(report)]) == ExitStatus.OK

        assert _counts(env, "adapt/grow") == _expected(60)
        data = json.loads(report.read_text())
        assert [f["units"] for f in data["files"]] == [4, 16, 40]
        assert data["totals"]["registered"] == 60
        assert all(f["state"] == "registered" for f in data["files"])
        # The cuts cover the built files' items in order, each once; two files were built.
        # Up to --max-items (40), across the two built files' boundary.
        assert _cuts(tmp_path) == [(0, 4, 4), (4, 20, 16), (20, 60, 40)]
        built = sorted(p.name for p in (tmp_path / "state" / "manifests").glob("manifest-*"))
        assert built == ["manifest-00001.json", "manifest-00002.json"]
        assert [j["units"] for j in env.standin.jobs()] == [4, 16, 40]

        starts = env.standin.registration_calls["start"]
        assert main(args) == ExitStatus.OK  # rebuilt the same: nothing is sent again
        assert env.standin.registration_calls["start"] == starts
        assert _counts(env, "adapt/grow") == _expected(60)


def test_no_adaptive_sends_the_built_files_as_they_are(tmp_path):
    keys = _keys(tmp_path, 30)
    report = tmp_path / "report.json"
    with encord_env(tmp_path, job_latency=0.02) as env:
        args = _args(env, tmp_path, "adapt/off", keys, "--max-items", "20", "--no-adaptive")
        assert main([*args, "--report", str(report)]) == ExitStatus.OK

        files = json.loads(report.read_text())["files"]
        assert [(f["file"], f["units"]) for f in files] == [
            ("manifest-00001.json", 20),
            ("manifest-00002.json", 10),
        ]
        assert _counts(env, "adapt/off") == _expected(30)
        assert _cuts(tmp_path) == []
        assert not (tmp_path / "state" / "cuts").exists()


def test_adaptive_with_manifests_is_a_usage_error(tmp_path, capsys):
    write_manifest(tmp_path / "m", 1, images=image_urls("x", 2))
    with encord_env(tmp_path) as env:
        code = main(env.args(tmp_path / "m", "adapt/no", "--adaptive"))
        assert code == ExitStatus.USAGE
        assert "--adaptive" in capsys.readouterr().err
        assert env.standin.registration_calls["start"] == 0
        # Not given: the files are sent as they are, as always.
        assert main(env.args(tmp_path / "m", "adapt/no")) == ExitStatus.OK


@pytest.mark.e2e
def test_a_run_killed_mid_way_is_resumed_and_every_item_registered_once(tmp_path):
    count = 12_500  # cut as 500, 2,000, 8,000, 2,000
    keys = _keys(tmp_path, count)
    with encord_env(tmp_path, job_latency=0.2, max_poll_hold=0.3) as env:
        args = _args(env, tmp_path, "adapt/crash", keys, "--jobs", "1")
        # The second file's start takes effect, then the client is killed before the answer.
        hold = env.standin.hold("start", "after", 1)
        proc = subprocess.Popen(
            cli_command(*args), env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert hold.wait_reached(timeout=120), proc.communicate(timeout=5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=20)
        finally:
            hold.release()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        before = _cuts(tmp_path)
        assert before[:2] == [(0, 500, 500), (500, 2500, 2000)]
        report = tmp_path / "report.json"

        assert main([*args, "--report", str(report)]) == ExitStatus.OK

        assert _counts(env, "adapt/crash") == _expected(count)
        cuts = _cuts(tmp_path)
        assert cuts[: len(before)] == before  # the same files resumed, the rest cut after them
        assert [c[:2] for c in cuts] == [
            (start, stop)
            for start, stop in zip(
                [0] + [c[1] for c in cuts[:-1]], [c[1] for c in cuts], strict=True
            )
        ]
        assert cuts[-1][1] == count
        data = json.loads(report.read_text())
        assert [f["units"] for f in data["files"]] == [c[2] for c in cuts]
        assert data["totals"]["registered"] + data["totals"]["skipped_duplicates"] == count
        assert any(f["forced_skip_duplicates"] for f in data["files"])


def test_a_changed_source_is_cut_anew_and_what_was_registered_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(
        run, "SizeController", functools.partial(SizeController, start=4, minimum=1)
    )
    with encord_env(tmp_path, job_latency=0.02) as env:
        first = _args(env, tmp_path, "adapt/changed", _keys(tmp_path, 20))
        assert main(first) == ExitStatus.OK
        # The cut files are lost: cut again from the same items, they hash the same.
        for path in (tmp_path / "state" / "cuts").iterdir():
            path.unlink()
        starts = env.standin.registration_calls["start"]
        assert main(first) == ExitStatus.OK
        assert env.standin.registration_calls["start"] == starts
        assert len(list((tmp_path / "state" / "cuts").iterdir())) == len(_cuts(tmp_path))

        report = tmp_path / "report.json"
        grown = _args(env, tmp_path, "adapt/changed", _keys(tmp_path, 30), "--report", str(report))
        assert main(grown) == ExitStatus.OK

        assert _counts(env, "adapt/changed") == _expected(30)
        data = json.loads(report.read_text())
        assert data["totals"]["registered"] == 30  # earlier runs' files are in the report too
        new = [f for f in data["files"] if f["sent_this_run"]]
        assert sum(f["units"] for f in new) == 30  # the new stream, from its start
        assert sum(f["skipped_duplicates"] for f in new) == 20
        jobs = env.standin.jobs()
        assert all(j["skipDuplicateUrls"] for j in jobs[-len(new) :])


def test_a_state_that_sent_the_built_files_as_they_are_goes_on_that_way(tmp_path, capsys):
    # As a state written by the version before --adaptive: built files sent as they are.
    with encord_env(tmp_path, job_latency=0.02) as env:
        first = _args(env, tmp_path, "adapt/old", _keys(tmp_path, 20), "--no-adaptive")
        assert main(first) == ExitStatus.OK
        capsys.readouterr()

        assert main(_args(env, tmp_path, "adapt/old", _keys(tmp_path, 30))) == ExitStatus.OK

        assert "goes on the same way" in capsys.readouterr().out
        assert _counts(env, "adapt/old") == _expected(30)
        assert _cuts(tmp_path) == []

        # And the other way round: cut adaptively first, then --no-adaptive goes on cutting.
        second = _args(env, tmp_path, "adapt/new", _keys(tmp_path, 20))
        assert main(second) == ExitStatus.OK
        cut = len(_cuts(tmp_path))
        more = _args(env, tmp_path, "adapt/new", _keys(tmp_path, 30), "--no-adaptive")
        assert main(more) == ExitStatus.OK
        assert _counts(env, "adapt/new") == _expected(30)
        assert len(_cuts(tmp_path)) > cut
