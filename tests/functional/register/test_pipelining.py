"""Registration results are unchanged by the pipelining.

The same registration files go through `encord-register register` three ways against one
stand-in, each into its own folder: as before the pipelining (one thread per job, each file
built and serialised by the SDK's public call just before it is sent, each answer parsed
before the slot is free), and pipelined with `--jobs 1` and `--jobs 8` (files prepared ahead,
start requests serialised ahead, answers parsed after the slot is freed). What Encord ends up
holding, the report and the exit status must be the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registration.cli import main
from registration.encord.job_requests import JobRequest, JobState
from registration.exit_codes import ExitStatus
from registration.register import registrar
from tests.standin.testing import EncordEnv, encord_env, image_urls, write_manifest

FAILING = image_urls("cam3", 5)[2]
REJECTED = image_urls("cam8", 3)[0]


def _files(directory: Path) -> None:
    for n in range(1, 7):
        write_manifest(
            directory, n, images=image_urls(f"cam{n}", 5), skip_duplicate_urls=n % 2 == 0
        )
    write_manifest(
        directory,
        9,
        videos=image_urls("clips", 3),
        image_groups=[("group-a", image_urls("ga", 3)), ("group-b", image_urls("gb", 2))],
    )
    # Not ASCII: the request body is encoded ahead of time, and must say the same thing.
    accents = directory / "manifest-00010.json"
    accents.write_text(
        json.dumps(
            {
                "images": [
                    {
                        "objectUrl": image_urls("é", 1)[0],
                        "title": "caméra é",
                        "clientMetadata": {"lieu": "Zürich ✓"},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    refused = write_manifest(directory, 7, images=image_urls("cam7", 3))
    document = json.loads(refused.read_text())
    document["images"][1]["imageMetadata"] = {"mimeType": "image/jpeg", "fileSize": 3, "height": 2}
    refused.write_text(json.dumps(document))
    write_manifest(directory, 8, images=image_urls("cam8", 3))


def _held(env: EncordEnv, folder: str) -> list[tuple[Any, ...]]:
    """What the folder holds, without what differs by run (uuids, times, jobs)."""
    return sorted(
        (
            i["title"],
            tuple(i["urls"]),
            json.dumps(i["clientMetadata"], sort_keys=True),
            i["type"],
            json.dumps(i["mediaMetadata"], sort_keys=True),
            tuple(i["fileTitles"]),
            i["form"],
        )
        for i in env.items(folder)
    )


def _report(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    files = []
    for f in data["files"]:
        f = dict(f)
        f["item_uuids"] = len(f["item_uuids"])
        f["jobs"] = len(f["jobs"])
        files.append(f)
    return {"totals": data["totals"], "files": files, "interrupted": data["interrupted"]}


def _unpipelined(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registrar as before: no file prepared ahead, the SDK's public calls."""
    monkeypatch.setattr(registrar, "PREFETCH_FILES", 0)

    def start(session: Any, folder: Any, request: JobRequest) -> str:
        return session.start_job_once(folder, *request.arguments())

    def poll(session: Any, folder: Any, job_uuid: str, timeout: int) -> JobState:
        outcome = session.poll_job(folder, job_uuid, timeout)
        return JobState(outcome.status, parsed=outcome)

    monkeypatch.setattr(registrar, "start_prepared_job_once", start)
    monkeypatch.setattr(registrar, "poll_job_state", poll)


def test_registration_results_are_unchanged_by_the_pipelining(tmp_path, monkeypatch):
    manifests = tmp_path / "m"
    _files(manifests)
    runs = {"before": "1", "jobs-1": "1", "jobs-8": "8"}
    held: dict[str, list[tuple[Any, ...]]] = {}
    reports: dict[str, dict[str, Any]] = {}
    codes: dict[str, int] = {}
    with encord_env(tmp_path, job_latency=0.1, max_poll_hold=0.2) as env:
        env.standin.fail_units([FAILING])
        env.standin.reject_files_with([REJECTED])
        for name, jobs in runs.items():
            with monkeypatch.context() as patch:
                if name == "before":
                    _unpipelined(patch)
                report = tmp_path / f"{name}.json"
                codes[name] = main(
                    env.args(
                        manifests,
                        f"same/{name}",
                        "--jobs",
                        jobs,
                        "--state",
                        str(tmp_path / f"{name}.sqlite"),
                        "--report",
                        str(report),
                    )
                )
            held[name] = _held(env, f"same/{name}")
            reports[name] = _report(report)

    assert codes["before"] == ExitStatus.USAGE  # the refused file
    assert len(held["before"]) == 6 * 5 - 1 + 3 + 2 + 1
    totals = reports["before"]["totals"]
    assert (totals["failed"], totals["rejected_files"], totals["refused_files"]) == (1, 1, 1)
    for name in ("jobs-1", "jobs-8"):
        assert codes[name] == codes["before"], name
        assert held[name] == held["before"], name
        assert reports[name] == reports["before"], name


def test_a_rerun_after_the_pipelined_run_sends_nothing(tmp_path):
    manifests = tmp_path / "m"
    for n in range(1, 13):
        write_manifest(manifests, n, images=image_urls(f"c{n}", 3))
    with encord_env(tmp_path, job_latency=0.05, max_poll_hold=0.2) as env:
        assert main(env.args(manifests, "again", "--jobs", "3")) == ExitStatus.OK
        starts = env.standin.registration_calls["start"]
        assert main(env.args(manifests, "again", "--jobs", "3")) == ExitStatus.OK
        assert env.standin.registration_calls["start"] == starts == 12
        assert len(env.items("again")) == 36
