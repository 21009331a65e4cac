"""The GitHub Actions workflow we ship: OIDC only, the key from a secret, commands that parse."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from registration.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[3] / ".github" / "workflows" / "register.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_aws_access_is_oidc_only(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"]["id-token"] == "write"
    text = WORKFLOW.read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "aws-secret-access-key" not in text
    for job in workflow["jobs"].values():
        (aws,) = [
            s
            for s in job["steps"]
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
        ]
        assert set(aws["with"]) == {"role-to-assume", "aws-region"}


def test_encord_key_comes_from_a_secret_and_only_where_needed(workflow: dict[str, Any]) -> None:
    with_key = [s for s in steps(workflow) if "ENCORD_SSH_KEY" in s.get("env", {})]
    assert len(with_key) == 1
    assert with_key[0]["env"]["ENCORD_SSH_KEY"] == "${{ secrets.ENCORD_SSH_KEY }}"
    assert "encord-register register" in with_key[0]["run"]


def test_inputs_never_reach_a_shell_unquoted(workflow: dict[str, Any]) -> None:
    # `${{ inputs.x }}` inside `run:` is a script-injection hole; inputs go through env.
    for step in steps(workflow):
        assert "${{ inputs." not in step.get("run", ""), step


def test_deploys_with_the_pinned_cli_and_writes_outputs(workflow: dict[str, Any]) -> None:
    runs = [s.get("run", "") for s in workflow["jobs"]["deploy"]["steps"]]
    assert "make install" in runs
    assert any(
        r.startswith("npx cdk deploy") and "--outputs-file cdk-outputs.json" in r for r in runs
    )


def test_register_job_installs_the_helper_without_the_cdk(workflow: dict[str, Any]) -> None:
    runs = [s.get("run", "") for s in workflow["jobs"]["register"]["steps"]]
    assert "pip install -c requirements.lock ." in runs  # base package: no aws-cdk-lib


def helper_commands(workflow: dict[str, Any]) -> list[list[str]]:
    commands = []
    for step in steps(workflow):
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            line = line.strip()
            if line.startswith("encord-register "):
                line = re.split(r"\s(?:>|\|\|)\s", line)[0]
                # "$@": the optional flags the step sets (see test_the_retry_input_...).
                commands.append([arg for arg in shlex.split(line)[1:] if arg != "$@"])
    return commands


def test_every_helper_command_parses_with_this_version(workflow: dict[str, Any]) -> None:
    commands = helper_commands(workflow)
    assert [c[0] for c in commands] == ["verify", "manifest", "register"]
    parser = build_parser()
    for args in commands:
        parser.parse_args(args)  # argparse exits (SystemExit) on an unknown flag


def test_partial_failure_warns_and_other_failures_fail_the_job(workflow: dict[str, Any]) -> None:
    (register,) = [s for s in steps(workflow) if "encord-register register" in s.get("run", "")]
    script = register["run"]
    assert "set +e" in script and '3) echo "::warning::' in script and '*) exit "$code"' in script


def register_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workflow["jobs"]["register"]["steps"])


def test_every_attempt_saves_its_own_state_and_the_newest_is_restored(
    workflow: dict[str, Any],
) -> None:
    # Caches are never overwritten and a re-run keeps github.run_id: a key without the
    # attempt made a re-run's state unsaveable, and the next run sent its work again.
    job = register_steps(workflow)
    uses = [s.get("uses", "") for s in job]
    restore_at = next(i for i, u in enumerate(uses) if u.startswith("actions/cache/restore@"))
    save_at = next(i for i, u in enumerate(uses) if u.startswith("actions/cache/save@"))
    register_at = next(i for i, s in enumerate(job) if "register register" in s.get("run", ""))
    assert restore_at < register_at < save_at
    assert not any(u.startswith("actions/cache@") for u in uses)  # saves only on success
    restore, save = job[restore_at], job[save_at]

    key = save["with"]["key"]
    assert restore["with"]["key"] == key
    assert key.endswith("-${{ github.run_id }}-${{ github.run_attempt }}")
    assert restore["with"]["path"] == save["with"]["path"]  # the path is part of the cache version
    assert save["if"] == "always()"  # failed, cancelled or partial: the state is saved

    # One prefix restore key, common to every run and attempt of this folder and prefix:
    # GitHub restores the most recent cache that matches it, the newest state. A run-specific
    # restore key listed first would prefer an older attempt of this run over a newer run.
    (prefix,) = [k.strip() for k in restore["with"]["restore-keys"].splitlines() if k.strip()]
    assert "github.run" not in prefix and "${{ inputs.folder }}" in prefix
    assert "${{ inputs.prefix }}" in prefix
    for run_id, attempt in [("100", "1"), ("100", "2"), ("101", "1")]:
        rendered = key.replace("${{ github.run_id }}", run_id)
        rendered = rendered.replace("${{ github.run_attempt }}", attempt)
        assert rendered.startswith(prefix) and rendered != key

    # A lock file saved by a killed run would be refused as another host's on the next
    # runner: it is removed right after the restore, before any command runs.
    assert job[restore_at + 1]["run"].strip() == "rm -f .encord-register/*.lock"


def _run_register_step(
    workflow: dict[str, Any], tmp_path: Path, retry: str, exit_code: int
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the register step's script in bash with a stub `encord-register` on PATH."""
    (step,) = [s for s in steps(workflow) if "encord-register register" in s.get("run", "")]
    assert step["env"]["RETRY_FAILED"] == "${{ inputs.retry_failed }}"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "encord-register"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "$ARGS_OUT"\nexit {exit_code}\n')
    stub.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RETRY_FAILED": retry,  # how GitHub renders a boolean input into env
        "ARGS_OUT": str(tmp_path / "args"),
        "FOLDER": "s3-data",
        "ENCORD_INTEGRATION": "demo-s3",
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],  # GitHub's bash
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done, (tmp_path / "args").read_text().splitlines()


@pytest.mark.parametrize("retry", ["true", "false"])
def test_the_retry_input_reaches_the_register_command(
    workflow: dict[str, Any], tmp_path: Path, retry: str
) -> None:
    trigger = workflow.get("on") or workflow[True]  # YAML 1.1 reads a bare `on` as true
    retry_input = trigger["workflow_dispatch"]["inputs"]["retry_failed"]
    assert retry_input["type"] == "boolean" and retry_input["default"] is False

    done, args = _run_register_step(workflow, tmp_path, retry, exit_code=0)

    assert done.returncode == 0, done.stderr
    parsed = build_parser().parse_args(args)
    assert parsed.retry_failed is (retry == "true")
    assert parsed.folder == "s3-data" and parsed.integration == "demo-s3"


def test_a_partial_run_warns_how_to_retry_and_other_codes_fail(
    workflow: dict[str, Any], tmp_path: Path
) -> None:
    done, _ = _run_register_step(workflow, tmp_path, "false", exit_code=3)
    assert done.returncode == 0
    assert "::warning::" in done.stdout and "retry_failed" in done.stdout
    done, _ = _run_register_step(workflow, tmp_path, "false", exit_code=5)
    assert done.returncode == 5
