"""`encord-register`: the command-line entry point.

A thin dispatcher in the style of httpie: `main(argv) -> int`, one sub-command per
module under `registration.commands`, and exceptions mapped to exit codes here and
nowhere else. Sub-command modules keep heavy imports (the encord SDK, pyarrow) inside
their functions so that `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Protocol, cast

from registration import __version__
from registration.errors import RegisterError
from registration.exit_codes import ExitStatus, describe_exit_codes

# name -> module; each module defines HELP, add_arguments(parser) and run(args) -> int.
COMMAND_MODULES: dict[str, str] = {
    "manifest": "registration.commands.manifest",
    "register": "registration.commands.register",
    "verify": "registration.commands.verify",
    "schema": "registration.commands.schema",
}

TROUBLESHOOTING = "see README.md, section Troubleshooting"


class CommandModule(Protocol):
    """What a sub-command module provides."""

    HELP: str
    DESCRIPTION: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> CommandModule | None:
    try:
        return cast(CommandModule, importlib.import_module(COMMAND_MODULES[name]))
    except ModuleNotFoundError as exc:
        if exc.name == COMMAND_MODULES[name]:
            return None  # not built yet
        raise


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="encord-register",
        description="Register data kept in AWS S3 with Encord, by reference.",
        epilog=describe_exit_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = _load(name)
        if module is None:
            continue
        cmd = sub.add_parser(
            name,
            help=module.HELP,
            description=module.DESCRIPTION,
            epilog=describe_exit_codes(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run `encord-register` with `argv`; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return ExitStatus.USAGE
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return int(args._run(args))
    except RegisterError as exc:
        hint = "" if exc.hint else f"\n  hint: {TROUBLESHOOTING}"
        print(f"error: {exc}{hint}", file=sys.stderr)
        return int(exc.exit_status)
    except KeyboardInterrupt:
        print(
            "interrupted: progress is saved; run the same command again to resume.",
            file=sys.stderr,
        )
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitStatus.OK)
    except Exception as exc:  # the last line of defence against tracebacks
        if args.verbose:
            raise
        status, message = _unexpected(exc)
        print(f"error: {message}\n  hint: {TROUBLESHOOTING}", file=sys.stderr)
        return int(status)
    finally:
        signal.signal(signal.SIGTERM, previous)


_AUTH_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "ExpiredToken", "InvalidClientTokenId"}
)


def _unexpected(exc: Exception) -> tuple[ExitStatus, str]:
    """An exit status and a one-line message for an exception no command translated."""
    try:
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
        )
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return ExitStatus.FAILURE, f"internal error: {type(exc).__name__}: {exc}"
    if isinstance(exc, NoCredentialsError):
        return ExitStatus.AUTH, (
            "no AWS credentials found; configure them (AWS_PROFILE, environment variables, "
            "SSO or an instance role) and run again"
        )
    if isinstance(exc, NoRegionError):
        return ExitStatus.USAGE, "no AWS region configured; set AWS_REGION or pass --region"
    if isinstance(exc, EndpointConnectionError):
        return ExitStatus.REMOTE, f"cannot reach AWS: {exc}; check the network and AWS_ENDPOINT_URL"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        text = f"AWS refused {exc.operation_name}: {code} {error.get('Message', '')}".strip()
        if code in (
            "AccessDenied",
            "AccessDeniedException",
            "ExpiredToken",
            "InvalidClientTokenId",
        ):
            return ExitStatus.AUTH, text + "; check the credentials' permissions"
        return ExitStatus.REMOTE, text
    return ExitStatus.FAILURE, (
        f"internal error: {type(exc).__name__}: {exc} (a bug: run again with -v for the "
        "traceback and report it)"
    )


def entry_point() -> None:
    """Console-script entry: exit with `main`'s code."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry_point()
