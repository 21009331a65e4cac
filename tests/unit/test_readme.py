"""The README is the newcomer's path: its commands must exist and its sections must be there."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from registration.cli import build_parser
from registration.exit_codes import ExitStatus

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[str]:
    """Every `encord-register ...` command line in code blocks and inline code."""
    text = README.read_text()
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if "encord-register " in line and not line.startswith("#"):
                found.append(line[line.index("encord-register ") :])
    for inline in re.findall(r"`([^`\n]*encord-register [^`\n]*)`", text):
        found.append(inline[inline.index("encord-register ") :])
    return found


def test_the_two_commands_are_at_the_top() -> None:
    top = README.read_text()[:1500]
    assert "make demo" in top and "make test" in top


def test_readme_has_every_section_a_user_needs() -> None:
    text = README.read_text()
    for heading in (
        "## The access stack",
        "## From clone to registered data",
        "## Registration files",
        "## Register with Encord",
        "## Verify",
        "## In CI",
        "## Troubleshooting",
        "## Exit codes",
        "## Benchmarks",
    ):
        assert heading in text, heading
    for status in ExitStatus:
        assert f"| {int(status)} |" in text, status


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_parses(command: str) -> None:
    args = shlex.split(command)[1:]
    if len(args) < 2 or args[0].startswith("-") or "..." in command:
        pytest.skip("a command's name, not a command line")
    build_parser().parse_args(args)  # exits (SystemExit) on an unknown flag or command
