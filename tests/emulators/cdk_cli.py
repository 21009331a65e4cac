"""Run the real CDK CLI (`npx cdk`, pinned in package-lock.json) against the local emulator.

Every call has a timeout (a stuck custom resource would otherwise hang a deploy forever),
its own `CDK_HOME` (the CLI caches account lookups there) and its own output directory, so
tests and the demo can run side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.emulators.moto_server import EMULATOR_ENV, REPO_ROOT

DEPLOY_TIMEOUT_SECONDS = 240


class CdkError(RuntimeError):
    """A `cdk` command failed; carries its combined output."""

    def __init__(self, command: list[str], returncode: int, output: str) -> None:
        super().__init__(f"{' '.join(command[:3])} exited with {returncode}:\n{output[-4000:]}")
        self.returncode = returncode
        self.output = output


def cdk_env(endpoint_url: str, work_dir: Path) -> dict[str, str]:
    """The environment for `npx cdk` against the emulator at `endpoint_url`."""
    home = work_dir / "cdk-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CDK_")) or k in ("AWS_CA_BUNDLE",)
    }
    env.update(EMULATOR_ENV)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "CDK_HOME": str(home),
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CI": "true",
        }
    )
    return env


def npx() -> str:
    """The `npx` executable."""
    found = shutil.which("npx")
    if found is None:
        raise RuntimeError("npx not found: install Node.js 20+ (make test does `npm ci`)")
    return found


def run_cdk(
    args: list[str],
    env: dict[str, str],
    *,
    timeout: float = DEPLOY_TIMEOUT_SECONDS,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `npx cdk ARGS` in the repository; raise `CdkError` on failure when `check`."""
    command = [npx(), "--no-install", "cdk", *args]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise CdkError(command, result.returncode, result.stdout + result.stderr)
    return result


def context_args(config: dict[str, Any]) -> list[str]:
    """`-c encord=JSON`: replace the cdk.json sample configuration."""
    return ["-c", f"encord={json.dumps(config, separators=(',', ':'))}"]


def bootstrap(env: dict[str, str], config: dict[str, Any], out_dir: Path) -> None:
    """`cdk bootstrap` into the emulator's account and region.

    The CLI runs the app to bootstrap too, so it gets the configuration the deploy will use
    (the sample's placeholder external ID stops the app).
    """
    target = f"aws://{EMULATOR_ENV['CDK_DEFAULT_ACCOUNT']}/{EMULATOR_ENV['AWS_REGION']}"
    args = ["bootstrap", target, *context_args(config), "--output", str(out_dir), "--no-notices"]
    run_cdk(args, env)


def deploy(env: dict[str, str], config: dict[str, Any], out_dir: Path, outputs_file: Path) -> str:
    """`cdk deploy --method=direct` with `config`; return the CLI's output."""
    result = run_cdk(
        [
            "deploy",
            *context_args(config),
            "--method=direct",
            "--require-approval=never",
            "--output",
            str(out_dir),
            "--outputs-file",
            str(outputs_file),
            "--no-notices",
            "--progress=events",
        ],
        env,
    )
    return result.stdout + result.stderr


def destroy(env: dict[str, str], config: dict[str, Any], out_dir: Path) -> str:
    """`cdk destroy --force` of the stack `config` describes."""
    result = run_cdk(
        ["destroy", *context_args(config), "--force", "--output", str(out_dir), "--no-notices"],
        env,
    )
    return result.stdout + result.stderr
