"""The GitHub Actions workflow we ship: OIDC only, the key from a secret, commands that parse."""

from __future__ import annotations

import re
import shlex
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
                commands.append(shlex.split(line)[1:])
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
