"""Fixtures shared across the test tiers.

AWS environments: `offline_aws` gives boto3 dummy credentials and a region with nothing of
the developer's own (profile, endpoint) leaking in, for moto in-process; `no_aws_credentials`
empties boto3's whole credential chain, for the "no credentials" paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_REGION = "us-east-1"
_LEAKS = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN")
_CREDENTIAL_CHAIN = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@pytest.fixture
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> str:
    """Dummy AWS credentials and a default region; returns the region."""
    for name in _LEAKS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", TEST_REGION)
    return TEST_REGION


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS credentials anywhere boto3 looks (environment, files, instance metadata)."""
    for name in _CREDENTIAL_CHAIN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def lambda_dependencies() -> None:
    """The continuous-registration Lambda's pip result in the per-machine cache, built once.

    For the construct's default runtime and this interpreter's Python. Later syntheses (in
    this process or a `cdk` subprocess) copy it instead of running pip, so the first pip run
    of a machine is paid here, not inside a timed deploy.
    """
    import sys

    from stacks.continuous import DEFAULT_RUNTIME
    from stacks.continuous_bundle import DependencySet, dependencies_dir, python_version

    local = f"{sys.version_info.major}.{sys.version_info.minor}"
    for version in sorted({python_version(DEFAULT_RUNTIME), local}):
        dependencies_dir(DependencySet(python_version=version))
