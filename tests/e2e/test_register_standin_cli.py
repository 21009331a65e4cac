"""The stand-in runs on its own (as the demo uses it) and the CLI registers through it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin.keys import generate_ssh_key
from tests.standin.testing import image_urls, subprocess_env, write_manifest

pytestmark = pytest.mark.e2e


def test_standalone_standin_serves_until_sigterm(tmp_path):
    key_text, _ = generate_ssh_key()
    key_file = tmp_path / "key"
    key_file.write_text(key_text)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standin",
            "--integration",
            "demo-s3",
            "--public-key-file",
            str(key_file),
            "--job-latency",
            "0.05",
        ],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "ready" and ready[2].startswith("integration=")
        domain = ready[1]
        assert key_text.splitlines()[1] not in " ".join(ready)
        manifests = tmp_path / "m"
        write_manifest(manifests, 1, images=image_urls("a", 3))
        args = [
            "register", "--manifests", str(manifests), "--ssh-key-file", str(key_file),
            "--encord-domain", domain, "--integration", "demo-s3", "--folder", "demo",
        ]  # fmt: skip
        assert main(args) == ExitStatus.OK

        with urllib.request.urlopen(f"{domain}/_standin/folders", timeout=10) as answer:
            (folder,) = json.load(answer)
        with urllib.request.urlopen(
            f"{domain}/_standin/folders/{folder['uuid']}/items", timeout=10
        ) as answer:
            items = json.load(answer)
        assert folder["path"] == "demo"
        assert sorted(i["url"] for i in items) == image_urls("a", 3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
