"""Never twice, never stuck: lost answers with concurrent jobs, cancelled and stuck jobs,
rejected re-sends. `encord-register register` runs through the real SDK against the stand-in."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin.testing import EncordEnv, encord_env, image_urls, write_manifest

FOLDER = "projects/once"


@pytest.fixture
def concurrent(tmp_path: Path):
    # Jobs take long enough that a re-send overlaps the job whose answer was lost.
    with encord_env(tmp_path, job_latency=0.4, max_poll_hold=0.2, concurrent_jobs=True) as e:
        yield e


@pytest.fixture
def env(tmp_path: Path):
    with encord_env(tmp_path, job_latency=0.05, max_poll_hold=0.2) as e:
        yield e


def _counts(env: EncordEnv) -> Counter[str]:
    return Counter(url for item in env.items(FOLDER) for url in item["urls"])


def _report(path: Path) -> dict:
    return json.loads(path.read_text())


def test_lost_answer_with_concurrent_jobs_leaves_no_duplicate(concurrent, tmp_path):
    env = concurrent
    urls = image_urls("cam", 5)
    # skip_duplicate_urls off in the file: only the helper's forcing and clean-up dedupe.
    write_manifest(tmp_path / "m", 1, images=urls)
    env.standin.lose_answers("start", 1)
    report = tmp_path / "r.json"

    code = main(env.args(tmp_path / "m", FOLDER, "--report", str(report)))

    assert code == ExitStatus.OK
    jobs = env.standin.jobs()
    # The stand-in did run both jobs side by side: each registered every URL.
    assert [(j["skipDuplicateUrls"], j["itemsCreated"]) for j in jobs] == [(False, 5), (True, 5)]
    assert _counts(env) == Counter(urls)
    data = _report(report)
    first_job_items = {i["uuid"] for i in env.items(FOLDER)}
    removed = data["files"][0]["removed_duplicates"]
    assert len(removed) == data["totals"]["removed_duplicates"] == 5
    # What was removed is the re-sent job's own items; the lost job's are kept.
    assert {r["kept"] for r in removed} == first_job_items
    assert sorted(u for r in removed for u in r["urls"]) == sorted(urls)
    # This run's calls registered every unit (the lost job did): the report says so.
    assert (data["totals"]["registered"], data["totals"]["skipped_duplicates"]) == (5, 0)
    assert sorted(data["files"][0]["item_uuids"]) == sorted(first_job_items)


def test_items_registered_before_by_someone_else_are_never_removed(concurrent, tmp_path):
    env = concurrent
    urls = image_urls("shared", 4)
    folder = env.standin.create_folder(FOLDER)
    # Someone else registered urls[0] twice and urls[1] once, before this run.
    other = tmp_path / "other"
    write_manifest(other, 1, images=[urls[0], urls[1], urls[0]])
    assert main(env.args(other, FOLDER)) == ExitStatus.OK
    before = {i["uuid"]: i["urls"] for i in env.standin.items_in_folder(folder)}
    assert sorted(u for v in before.values() for u in v) == sorted([urls[0], urls[0], urls[1]])

    write_manifest(tmp_path / "m", 1, images=urls, skip_duplicate_urls=True)
    env.standin.lose_answers("start", 1)
    report = tmp_path / "r.json"

    assert main(env.args(tmp_path / "m", FOLDER, "--report", str(report))) == ExitStatus.OK

    after = {i["uuid"]: i["urls"] for i in env.standin.items_in_folder(folder)}
    assert set(before) <= set(after)  # nothing that existed before was touched
    mine = Counter(u for uid, v in after.items() if uid not in before for u in v)
    assert mine == Counter(urls[2:])  # the new URLs once each, the shared ones not again
    (entry,) = _report(report)["files"]
    assert all(r["uuid"] not in before for r in entry["removed_duplicates"])
    # Registered: what this run's calls made; the shared URLs were skipped as duplicates.
    assert (entry["registered"], entry["skipped_duplicates"]) == (2, 2)
    assert sorted(entry["item_uuids"]) == sorted(set(after) - set(before))


def _cancelled_first_job(env: EncordEnv, tmp_path: Path, urls: list[str]) -> list[str]:
    """Register one file whose job someone cancels in Encord; the CLI arguments used."""
    write_manifest(tmp_path / "m", 1, images=urls)
    env.standin.pause_jobs()
    args = env.args(tmp_path / "m", FOLDER, "--job-deadline", "1")
    assert main(args) == ExitStatus.REMOTE
    (job,) = env.standin.jobs()
    assert env.standin.cancel_job(job["uuid"]) == len(urls)  # as a person would, in Encord
    env.standin.resume_jobs()
    return args


def test_a_cancelled_job_is_sent_again_on_the_next_run(env, tmp_path):
    urls = image_urls("cam", 3)
    args = _cancelled_first_job(env, tmp_path, urls)
    report = tmp_path / "r.json"

    assert main([*args, "--report", str(report)]) == ExitStatus.PARTIAL

    data = _report(report)
    assert (data["totals"]["cancelled"], data["files"][0]["state"]) == (3, "partial")
    assert len(env.standin.jobs()) == 1

    assert main([*args, "--report", str(report)]) == ExitStatus.OK

    jobs = env.standin.jobs()
    assert [j["status"] for j in jobs] == ["CANCELLED", "DONE"]
    assert jobs[1]["urls"] == [[u] for u in urls] and jobs[1]["skipDuplicateUrls"]
    assert _counts(env) == Counter(urls)
    data = _report(report)
    assert (data["totals"]["cancelled"], data["files"][0]["state"]) == (0, "registered")
    assert main(args) == ExitStatus.OK
    assert len(env.standin.jobs()) == 2


def test_retry_failed_sends_cancelled_units_at_once(env, tmp_path):
    urls = image_urls("cam", 2)
    args = _cancelled_first_job(env, tmp_path, urls)

    assert main([*args, "--retry-failed"]) == ExitStatus.OK

    assert _counts(env) == Counter(urls)


def test_a_job_stuck_in_pending_is_left_in_flight_and_polled_again(env, tmp_path, capsys):
    urls = image_urls("cam", 2)
    write_manifest(tmp_path / "m", 1, images=urls)
    env.standin.pause_jobs()
    report = tmp_path / "r.json"
    args = env.args(tmp_path / "m", FOLDER, "--job-deadline", "1.5", "--report", str(report))

    assert main(args) == ExitStatus.REMOTE

    data = _report(report)
    assert data["files"][0]["state"] == "in_flight"
    assert data["files"][0]["past_deadline"] is True
    assert data["totals"]["past_deadline_files"] == 1
    assert data["exit_status"] == ExitStatus.REMOTE
    assert "--job-deadline" in capsys.readouterr().out
    polls = env.standin.registration_calls["poll"]
    assert polls >= 2
    env.standin.resume_jobs()

    assert main(args) == ExitStatus.OK

    assert env.standin.registration_calls["start"] == 1  # polled again, never re-sent
    assert env.standin.registration_calls["poll"] > polls
    assert _counts(env) == Counter(urls)
    assert _report(report)["files"][0]["past_deadline"] is False


def test_job_deadline_must_be_positive(env, tmp_path, capsys):
    write_manifest(tmp_path / "m", 1, images=image_urls("cam", 1))
    code = main(env.args(tmp_path / "m", FOLDER, "--job-deadline", "0"))
    assert code == ExitStatus.USAGE
    assert "--job-deadline must be more than 0" in capsys.readouterr().err


def test_a_rejected_resend_sends_only_the_failed_units_again(env, tmp_path):
    urls = image_urls("cam", 4)
    write_manifest(tmp_path / "m", 1, images=urls, skip_duplicate_urls=True, upsert_metadata=True)
    env.standin.fail_units([urls[2]])
    args = env.args(tmp_path / "m", FOLDER)
    assert main(args) == ExitStatus.PARTIAL
    env.standin.clear_unit_failures()
    env.standin.reject_files_with([urls[2]], message="temporarily refused")
    assert main([*args, "--retry-failed"]) == ExitStatus.PARTIAL  # the re-send is rejected
    with env.standin.store.lock:
        env.standin.store.reject_urls.clear()
    starts = env.standin.registration_calls["start"]

    assert main([*args, "--retry-failed"]) == ExitStatus.OK

    assert env.standin.registration_calls["start"] == starts + 1
    last = env.standin.jobs()[-1]
    # Only the failed unit went again: the others' metadata was not rewritten.
    assert (last["urls"], last["upsertMetadata"]) == ([[urls[2]]], True)
    assert _counts(env) == Counter(urls)
