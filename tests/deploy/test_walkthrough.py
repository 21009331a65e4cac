"""docs/local-walkthrough.md, run literally: the page cannot drift from what works.

Starts `python -m demo.emulators` as `make emulators` does, takes the `unset`/`export` lines
it prints (the environment a reader pastes into a second terminal), and runs every ```bash
block of the page in order, in one bash session with `set -euo pipefail`, from a scratch
directory that mirrors the repository (so `cdk.out/`, `cdk-outputs.json` and `out/` do not
land in the working tree). Then it presses Ctrl-C, as the page says, and checks that both
emulators stopped. The AWS emulator is moto with the test-side patches of
`tests.emulators.moto_server`: this proves the documented commands and flags, not the
Lambda runtime of the CORS custom resource.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "local-walkthrough.md"
#: What the walkthrough writes into the checkout: kept out of the mirror so it lands in tmp.
WRITTEN_BY_THE_WALKTHROUGH = {
    "cdk.out",
    "cdk-outputs.json",
    "out",
    ".encord-register",
    "demo-out",
    ".git",
}
STARTUP_TIMEOUT_SECONDS = 60
SCRIPT_TIMEOUT_SECONDS = 150

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.xdist_group("walkthrough"),
    pytest.mark.timeout(300),
]


def bash_blocks(text: str) -> list[str]:
    """The page's ```bash blocks, in order."""
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def mirror_repository(destination: Path) -> Path:
    """A directory whose entries link to the repository's, minus what the walkthrough writes."""
    destination.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in WRITTEN_BY_THE_WALKTHROUGH:
            (destination / entry.name).symlink_to(entry)
    return destination


def clean_env() -> dict[str, str]:
    """The test's environment without anything that would point the tools elsewhere."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_", "ENCORD_", "PYTEST_", "VIRTUAL_ENV"))
    }


class Emulators:
    """`python -m demo.emulators` in its own session, its output collected by a thread."""

    def __init__(self, work: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "demo.emulators", "--work", str(work)],
            cwd=REPO,
            env={**clean_env(), "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Then follow docs/local-walkthrough.md"):
                self.ready.set()
        self.ready.set()  # exited: let the waiter see it

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self) -> list[str]:
        """The `unset`/`export` lines, once the emulators are serving."""
        assert self.ready.wait(STARTUP_TIMEOUT_SECONDS), "make emulators did not start in time"
        assert self.process.poll() is None, f"make emulators exited:\n{self.output}"
        return [line for line in self.lines if line.startswith(("export ", "unset "))]

    def press_ctrl_c(self) -> int:
        """SIGINT to the whole process group, as a terminal's Ctrl-C; the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise
        finally:
            self._reader.join(timeout=10)


def live_processes_in_session(session_id: int) -> list[str]:
    """Command lines of live processes in `session_id` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if int(fields[3]) == session_id and fields[0] != "Z":
            found.append(cmdline)
    return found


def test_the_page_has_the_steps_the_test_runs() -> None:
    text = PAGE.read_text(encoding="utf-8")
    blocks = "\n".join(bash_blocks(text))
    assert "make emulators" in text
    assert "npx cdk bootstrap" in blocks
    assert (
        "npx cdk deploy --method=direct --require-approval never --outputs-file cdk-outputs.json"
        in blocks
    )
    for command in ("verify", "manifest", "register"):
        assert f"encord-register {command} " in blocks, command


@pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find leftovers"
)
def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    started = time.monotonic()
    blocks = bash_blocks(PAGE.read_text(encoding="utf-8"))
    checkout = mirror_repository(tmp_path / "checkout")
    emulators = Emulators(tmp_path / "emulators")
    try:
        env_lines = emulators.wait_ready()
        assert any(
            line.startswith("export AWS_ENDPOINT_URL=http://localhost:") for line in env_lines
        )
        script = "\n".join(["set -euo pipefail", *env_lines, *blocks])
        (tmp_path / "walkthrough.sh").write_text(script, encoding="utf-8")
        result = subprocess.run(
            ["bash", str(tmp_path / "walkthrough.sh")],
            cwd=checkout,
            env=clean_env(),
            stdin=subprocess.DEVNULL,  # no terminal, as in CI: the page's flags must suffice
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-6000:]
    finally:
        exit_code = emulators.press_ctrl_c()

    # What the page says happens, happens.
    outputs = json.loads((checkout / "cdk-outputs.json").read_text(encoding="utf-8"))
    assert outputs["EncordAccess"]["EncordRoleArn"].startswith("arn:aws:iam::123456789012:role/")
    summary = json.loads((checkout / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["objects_included"] == 5  # 3 images, a video and its sidecar
    assert "files sent this run 0" in result.stdout  # the second register sent nothing
    assert "folder walkthrough/s3-data: 4 item(s)" in result.stdout
    assert '"camera": "front"' in result.stdout  # the sidecar became the video's metadata
    assert "private/payroll.csv" not in output
    assert "verify exited with 6" in result.stdout  # the broken CORS rule is caught
    assert "\n  fix: " in result.stdout  # ... and verify says what to do

    # Ctrl-C stopped both emulators cleanly and left nothing running.
    assert exit_code == 0, emulators.output
    assert emulators.output.rstrip().endswith("stopped.")
    assert live_processes_in_session(emulators.process.pid) == []
    assert time.monotonic() - started < 120, "the walkthrough should stay quick"
