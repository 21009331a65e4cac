"""`encord-register register` end to end through the real encord SDK against the stand-in."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin import FaultPlan
from tests.standin.testing import EncordEnv, encord_env, image_urls, write_manifest

FOLDER = "projects/batch-1"


@pytest.fixture
def env(tmp_path: Path):
    with encord_env(tmp_path, job_latency=0.05, max_poll_hold=0.3) as e:
        yield e


def _three_files(manifests: Path) -> dict[str, list[str]]:
    urls = {f"manifest-{i:05d}.json": image_urls(f"cam{i}", 6) for i in range(1, 4)}
    for i, name in enumerate(urls, start=1):
        write_manifest(manifests, i, images=urls[name], skip_duplicate_urls=True)
    return urls


def _url_counts(env: EncordEnv, folder: str = FOLDER) -> Counter[str]:
    return Counter(url for item in env.items(folder) for url in item["urls"])


def test_registers_every_item_with_titles_urls_metadata_and_report(env, tmp_path, capsys):
    manifests = tmp_path / "m"
    urls = _three_files(manifests)
    report_path = tmp_path / "report.json"

    code = main(env.args(manifests, FOLDER, "--report", str(report_path), "--jobs", "2"))

    assert code == ExitStatus.OK
    items = env.items(FOLDER)
    expected = sorted(u for group in urls.values() for u in group)
    assert sorted(i["url"] for i in items) == expected
    by_url = {i["url"]: i for i in items}
    sample = urls["manifest-00002.json"][3]
    assert by_url[sample]["title"] == sample.rsplit("/", 1)[1]
    assert by_url[sample]["clientMetadata"] == {"source": sample[-9:]}
    assert {i["type"] for i in items} == {"image"}
    folders = {f["path"]: f for f in env.standin.folders()}
    assert set(folders) == {"projects", "projects/batch-1"}
    report = json.loads(report_path.read_text())
    assert report["totals"]["registered"] == 18
    assert report["totals"]["failed"] == 0
    assert report["folder_uuid"] == folders[FOLDER]["uuid"]
    assert sorted(u for f in report["files"] for u in f["item_uuids"]) == sorted(
        i["uuid"] for i in items
    )
    out = capsys.readouterr()
    assert "registered 18" in out.out
    key_line = env.key_text.strip().splitlines()[1]
    assert key_line not in out.out + out.err + report_path.read_text()


def test_rerun_registers_nothing_new(env, tmp_path, capsys):
    manifests = tmp_path / "m"
    _three_files(manifests)
    assert main(env.args(manifests, FOLDER)) == ExitStatus.OK
    starts = env.standin.registration_calls["start"]
    before = env.items(FOLDER)
    capsys.readouterr()

    assert main(env.args(manifests, FOLDER, "--json")) == ExitStatus.OK

    assert env.standin.registration_calls["start"] == starts == 3
    assert env.items(FOLDER) == before
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["files_sent_this_run"] == 0
    assert report["totals"]["registered"] == 18


FORMS = pytest.mark.parametrize("form", ["typed", "file"])


def _forms_held(env: EncordEnv) -> set[str]:
    return {item["form"] for item in env.items(FOLDER)}


@FORMS
def test_twenty_percent_transient_faults_still_land_exactly_once(env, tmp_path, form):
    manifests = tmp_path / "m"
    urls = [image_urls(f"cam{i}", 5) for i in range(8)]
    for i, group in enumerate(urls, start=1):
        # skip_duplicate_urls off in the file: dedup must come from the helper's forcing
        write_manifest(manifests, i, images=group)
    env.standin.set_faults(
        FaultPlan(
            rate_429=0.07,
            rate_500=0.07,
            rate_drop=0.06,
            rate_slow=0.05,
            slow_seconds=0.1,
            drop_routes=frozenset({"start", "create_folder", "integrations", "list_folders"}),
            seed=7,
        )
    )

    code = main(
        env.args(manifests, FOLDER, "--jobs", "4", "--max-retries", "12", "--submit-form", form)
    )

    assert code == ExitStatus.OK
    assert _forms_held(env) == {"dataItems" if form == "typed" else "externalFiles"}
    counts = _url_counts(env)
    assert counts == Counter(u for group in urls for u in group)
    assert set(counts.values()) == {1}
    injected = env.standin.faults.injected
    assert injected.get("429", 0) and injected.get("500", 0)
    assert injected.get("drop_before", 0) + injected.get("drop_after", 0)
    assert len([f for f in env.standin.folders() if f["path"] == FOLDER]) == 1


@FORMS
def test_failed_units_are_reported_and_retry_failed_registers_them_once(
    env, tmp_path, capsys, form
):
    manifests = tmp_path / "m"
    urls = image_urls("cam", 10)
    write_manifest(manifests, 1, images=urls[:5])
    write_manifest(manifests, 2, images=urls[5:])
    bad = [urls[1], urls[7]]
    env.standin.fail_units(bad, error="AccessDenied reading object")
    report_path = tmp_path / "r.json"

    code = main(env.args(manifests, FOLDER, "--report", str(report_path), "--submit-form", form))

    assert code == ExitStatus.PARTIAL
    report = json.loads(report_path.read_text())
    failed = {u["urls"][0]: u["error"] for f in report["files"] for u in f["failed"]}
    assert set(failed) == set(bad)
    assert all("AccessDenied" in e for e in failed.values())
    out = capsys.readouterr().out
    assert all(url in out for url in bad)
    assert sorted(_url_counts(env)) == sorted(set(urls) - set(bad))

    env.standin.clear_unit_failures()
    again = env.args(manifests, FOLDER, "--submit-form", form)
    assert main(again) == ExitStatus.PARTIAL  # no re-send without the flag
    starts = env.standin.registration_calls["start"]

    assert main([*again, "--retry-failed"]) == ExitStatus.OK

    assert env.standin.registration_calls["start"] == starts + 2
    retry_jobs = env.standin.jobs()[-2:]
    assert [j["units"] for j in retry_jobs] == [1, 1]
    assert all(j["skipDuplicateUrls"] for j in retry_jobs)
    assert _url_counts(env) == Counter(urls)
    assert _forms_held(env) == {"dataItems" if form == "typed" else "externalFiles"}
    assert main([*again, "--retry-failed"]) == ExitStatus.OK
    assert env.standin.registration_calls["start"] == starts + 2


def test_mixed_types_and_changed_file_are_not_duplicated(env, tmp_path):
    manifests = tmp_path / "m"
    frames = image_urls("seq", 3)
    videos = [u.replace(".jpg", ".mp4") for u in image_urls("vid", 2)]
    write_manifest(manifests, 1, videos=videos, image_groups=[("group-a", frames)])
    assert main(env.args(manifests, FOLDER)) == ExitStatus.OK
    # The file changes (one more video): only the new unit is registered.
    extra = [*videos, f"{videos[0]}-extra.mp4"]
    write_manifest(manifests, 1, videos=extra, image_groups=[("group-a", frames)])

    assert main(env.args(manifests, FOLDER)) == ExitStatus.OK

    items = env.items(FOLDER)
    assert sorted((i["type"], tuple(i["urls"])) for i in items) == sorted(
        [("video", (v,)) for v in extra] + [("imageGroup", tuple(frames))]
    )
    assert env.standin.jobs()[-1]["skipDuplicateUrls"] is True


def test_dry_run_creates_nothing(env, tmp_path, capsys):
    manifests = tmp_path / "m"
    _three_files(manifests)

    code = main(env.args(manifests, "new/folder", "--dry-run"))

    assert code == ExitStatus.OK
    assert env.standin.folders() == []
    assert env.standin.registration_calls["start"] == 0
    out = capsys.readouterr().out
    assert "would create folders new, new/folder" in out
    assert "would_send" in out
    assert not (manifests / ".encord-register").exists()


def test_existing_nested_folder_is_found_by_exact_name(env, tmp_path):
    existing = env.standin.create_folder("projects/batch-1")
    env.standin.create_folder("projects/batch-10")  # fuzzy search also returns this one
    manifests = tmp_path / "m"
    write_manifest(manifests, 1, images=image_urls("a", 2))

    assert main(env.args(manifests, FOLDER, "--no-create-folder")) == ExitStatus.OK

    assert len(env.standin.items_in_folder(existing)) == 2
    assert env.standin.registration_calls["create_folder"] == 0


def test_integration_by_uuid(env, tmp_path):
    manifests = tmp_path / "m"
    write_manifest(manifests, 1, images=image_urls("a", 1))
    args = env.args(manifests, FOLDER)
    args[args.index("--integration") + 1] = env.integration_id
    assert main(args) == ExitStatus.OK


def test_rate_limit_retry_after_is_honoured(env, tmp_path):
    manifests = tmp_path / "m"
    write_manifest(manifests, 1, images=image_urls("a", 1))
    # seed 1: the first integrations call is rate limited, the second is not.
    env.standin.set_faults(
        FaultPlan(rate_429=0.5, retry_after=1, routes=frozenset({"integrations"}), seed=1)
    )
    started = time.monotonic()

    assert main(env.args(manifests, FOLDER)) == ExitStatus.OK

    assert time.monotonic() - started >= 1.0
    assert env.standin.requests_seen["integrations"] == 2
    assert env.standin.faults.injected == {"429": 1}


def test_without_ignore_errors_a_failing_unit_fails_the_job(env, tmp_path, capsys):
    manifests = tmp_path / "m"
    urls = image_urls("a", 3)
    write_manifest(manifests, 1, images=urls)
    env.standin.fail_units([urls[0]], error="Object not found")

    assert main(env.args(manifests, FOLDER, "--no-ignore-errors")) == ExitStatus.PARTIAL

    (job,) = env.standin.jobs()
    assert (job["ignoreErrors"], job["status"]) == (False, "ERROR")
    assert f"failed {urls[0]}: Object not found" in capsys.readouterr().out
