"""What the real CDK CLI hands the app from `cdk.json` and `-c`, and what the user then reads.

`npx cdk synth` runs the app as a user would; the app stops at the configuration, before it
builds anything, so each run takes a few seconds and needs no AWS account.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.emulators.cdk_cli import run_cdk
from tests.stack.synth import MINIMAL_CONFIG

pytestmark = pytest.mark.xdist_group("cdk")

SYNTH_TIMEOUT_SECONDS = 120


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """No AWS credentials or region: synth must not need any."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        {
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "CDK_HOME": str(tmp_path / "cdk-home"),
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CI": "true",
        }
    )
    return env


def synth(args: list[str], env: dict[str, str], out: Path) -> tuple[int, str]:
    result = run_cdk(
        ["synth", "--quiet", "--no-notices", "--output", str(out), *args],
        env,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_the_sample_stops_at_its_placeholder_external_id(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    code, output = synth([], cli_env, tmp_path / "out")
    assert code == 1
    assert "encord.externalId: received 'replace-with-the-external-id-encord-shows-you'" in output
    assert "the sample's placeholder, not your external ID" in output
    assert "Integrations > New integration > AWS S3" in output
    assert "Traceback" not in output
    assert not list((tmp_path / "out").glob("*.template.json"))


def test_a_multi_line_context_value_is_accepted(cli_env: dict[str, str], tmp_path: Path) -> None:
    # The CLI hands the app only `{`; the app restores the value from the CLI's command line.
    pretty = json.dumps(MINIMAL_CONFIG, indent=2)
    assert "\n" in pretty
    code, output = synth(["-c", f"encord={pretty}"], cli_env, tmp_path / "out")
    assert code == 0, output
    (template,) = (tmp_path / "out").glob("*.template.json")
    assert MINIMAL_CONFIG["externalId"] in template.read_text()
    # On one line, the same configuration is accepted too.
    one_line = json.dumps(MINIMAL_CONFIG)
    code, output = synth(["-c", f"encord={one_line}"], cli_env, tmp_path / "out2")
    assert code == 0, output


def test_a_trailing_comma_is_reported_with_its_position(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    broken = json.dumps(MINIMAL_CONFIG)[:-1] + ",}"
    code, output = synth(["-c", f"encord={broken}"], cli_env, tmp_path / "out")
    assert code == 1
    assert f"at line 1 column {len(broken)}" in output
    assert "(JSON allows no comma before a closing ] or })" in output
    assert "expected a JSON object" not in output
