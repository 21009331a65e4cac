"""The CLI dispatcher: exit codes, help, and no tracebacks for user mistakes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from registration import __version__
from registration.cli import main
from registration.exit_codes import EXIT_STATUS_MEANING, ExitStatus


def test_every_exit_status_is_documented() -> None:
    assert set(EXIT_STATUS_MEANING) == set(ExitStatus)
    assert ExitStatus.INTERRUPTED == 130
    assert len({int(s) for s in ExitStatus}) == len(ExitStatus)


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == ExitStatus.USAGE
    assert "usage: encord-register" in capsys.readouterr().err


def test_help_lists_exit_codes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "registration", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
    assert "exit codes:" in proc.stdout
    assert "130" in proc.stdout


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "registration", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
    assert __version__ in proc.stdout


def test_unexpected_aws_errors_become_messages_not_tracebacks(monkeypatch, capsys):
    """An exception no command translated still ends in one line and a documented code."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    import registration.cli.core as cli

    credentials = "hint: see docs/troubleshooting.md#credentials"
    cases = [
        (NoCredentialsError(), ExitStatus.AUTH, "no AWS credentials found", credentials),
        (
            EndpointConnectionError(endpoint_url="http://x"),
            ExitStatus.REMOTE,
            "cannot reach AWS",
            None,
        ),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListObjectsV2"),
            ExitStatus.AUTH,
            "AWS refused ListObjectsV2: AccessDenied no",
            credentials,
        ),
        (
            ValueError("boom"),
            ExitStatus.FAILURE,
            "internal error: ValueError: boom",
            "hint: see docs/troubleshooting.md#internal-errors",
        ),
    ]
    for exc, status, message, hint in cases:

        def fail(args, console, exc=exc):
            raise exc

        parser = cli.build_parser()
        monkeypatch.setattr(cli, "build_parser", lambda parser=parser: parser)
        for action in parser._subparsers._group_actions[0].choices.values():
            action.set_defaults(_run=fail)
        assert cli.main(["manifest", "--keys-file", "k", "--bucket", "b", "--out", "o"]) == status
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        # A section that speaks of this error, or no hint at all (never the whole page).
        assert (hint in err) if hint else ("hint:" not in err)


def test_an_error_without_its_own_hint_gets_none(tmp_path, capsys):
    code = main(["manifest", "--out", str(tmp_path / "out")])
    assert code == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: no source: give --bucket NAME")
    assert "hint:" not in err


def test_a_missing_keys_file_is_reported_before_any_aws_call(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    args = ["manifest", "--keys-file", str(tmp_path / "typo.txt"), "--bucket", "b"]
    assert main([*args, "--out", str(tmp_path / "out")]) == ExitStatus.USAGE
    assert "keys file" in capsys.readouterr().err


def test_the_helper_never_imports_the_cdk(tmp_path):
    """Jobs that only register install the base package: no aws-cdk-lib, constructs, cdk-nag."""
    probe = (
        "import sys, importlib, pkgutil\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('aws_cdk', 'constructs', 'cdk_nag', 'jsii'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import registration\n"
        "for m in pkgutil.walk_packages(registration.__path__, 'registration.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "from registration.cli import main\n"
        "sys.exit(main(['--help']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("manifest", "register", "verify", "schema"):
        assert command in result.stdout
