"""The argument parser of `encord-register`: one sub-command per module of `cli.commands`."""

from __future__ import annotations

import argparse
from typing import Protocol

from registration import __version__
from registration.cli.commands import (
    cloud_sync,
    continuous,
    cors,
    manifest,
    register,
    schema,
    verify,
)
from registration.cli.console import Console
from registration.exit_codes import describe_exit_codes


class Command(Protocol):
    """What a module of `registration.cli.commands` provides."""

    HELP: str
    DESCRIPTION: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's flags to its sub-parser."""

    def run(self, args: argparse.Namespace, console: Console) -> int:
        """Parse `args` into records, call the stage, render; return the exit status."""


COMMANDS: dict[str, Command] = {
    "manifest": manifest,
    "register": register,
    "verify": verify,
    "schema": schema,
    "cors": cors,
    "cloud-sync": cloud_sync,
    "continuous": continuous,
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="encord-register",
        description="Register data kept in AWS S3 with Encord, by reference.",
        epilog=describe_exit_codes(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
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
