"""`make demo` is the newcomer's path: it runs here as a test so it cannot rot."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.deploy,
    pytest.mark.xdist_group("demo"),
    pytest.mark.timeout(400),
]


def processes_in_session(session_id: int) -> list[str]:
    """Command lines of live processes in `session_id` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (
                (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == session_id and state != "Z":
            found.append(cmdline)
    return found


def listening(url: str) -> bool:
    port = re.match(r"http://[^:/]+:(\d+)", url).group(1)  # type: ignore[union-attr]
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find leftovers"
)
def test_demo_runs_end_to_end_twice_and_leaves_nothing_running(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    for run in (1, 2):  # a second run works too
        process = subprocess.Popen(
            [sys.executable, "-m", "demo", "--out", str(out)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-6000:]
        assert processes_in_session(process.pid) == [], f"run {run} left processes behind"
        endpoints = re.search(r"AWS endpoint (\S+); Encord API (\S+)", output)
        assert endpoints is not None
        assert not listening(endpoints.group(1)) and not listening(endpoints.group(2))

    # What the demo shows is true: the stand-in holds the items, the report agrees.
    registered, continuous = output.split("== 8.")
    assert "folder demo/s3-data: 8 item(s)" in registered
    # The customer's rule, and the stack's own (named for stack, region and construct).
    assert re.search(
        r"\['customer-dashboard', 'encord-access-EncordAccessDemo-[a-z0-9-]+-[0-9a-f]{8}'\] "
        r"\(the customer's kept\)",
        output,
    ), output
    assert "files sent this run 0" in output  # the re-run registered nothing twice
    report = json.loads((out / "register-report.json").read_text())
    assert report["totals"]["registered"] == 8
    assert report["totals"]["failed"] == 0
    skipped = [
        json.loads(line) for line in (out / "manifests" / "skipped.jsonl").read_text().splitlines()
    ]
    assert {s["key"]: s["reason"] for s in skipped} == {
        "media/images/empty.png": "empty_object",
        "media/images/thumbs.db": "unknown_type",
        "media/videos/zz-2019-archive.mp4": "archived_not_restored",
    }
    summary = json.loads((out / "manifests" / "summary.json").read_text())
    assert summary["objects_seen"] == summary["objects_included"] + summary["objects_skipped"] == 17
    assert "private/payroll.csv" not in output.split("== 5.")[1]  # outside the granted prefixes
    key_text = (out / "encord-demo-key").read_text()
    assert key_text.splitlines()[1] not in output  # the Encord key is never printed
    assert_continuous_step(continuous, out)


def assert_continuous_step(output: str, out: Path) -> None:
    """Step 8: the files uploaded while the handler ran are in the folder exactly once."""
    step, after = output.split("== 9.")
    assert re.search(r"registered in [\d.]+ s: \d+ messages in \d+ invocations", step), step
    assert "folder demo/s3-data: 11 item(s)" in after  # 8 + two images + one DICOM series
    titles = re.findall(r"^\s+\[(\w+)\] (\S+)(.*)$", after, flags=re.M)
    new = [
        (kind, title, rest) for kind, title, rest in titles if "live/" in title or "002" in title
    ]
    assert [(kind, title) for kind, title, _ in new] == [
        ("image", "media/live/cam-7/frame-0001.png"),  # uploaded twice, registered once
        ("image", "media/live/cam-7/frame-0002.png"),
        ("dicomSeries", "scans/patient-002/series-1"),
    ]
    # The sidecar that landed after its image became that item's metadata (no item of its own).
    assert 'metadata={"camera": "cam-7", "site": "north gate"}' in new[1][2]
    assert new[2][2].endswith("/scans/patient-002/series-1/1.dcm +2 more")  # three slices
    # Skipped with their reasons, never registered: the empty file and the series' marker.
    lines = [json.loads(line) for line in (out / "continuous-handler.log").read_text().splitlines()]
    skipped = {d["key"]: d["reason"] for d in lines if d.get("event") == "skipped"}
    assert skipped == {
        "media/live/cam-7/empty.png": "empty_object",
        "scans/patient-002/series-1/_COMPLETE": "group_marker",
    }
    # `encord-register continuous status` after the step: nothing failed, nothing late.
    assert "dead-letter queue: 0 message(s)" in step
    assert "late arrivals: 0" in step and "last errors (newest first): 0" in step
