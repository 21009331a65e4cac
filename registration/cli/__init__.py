"""The command-line interface: `encord-register` (entry point, parser, shared options, commands).

`main(argv) -> int` is the whole program; `build_parser()` its parser. Commands live in
`cli.commands`, one module each, and only parse, call a stage, render and return an exit
status. This package is the only part of the helper that prints or exits.
"""

from registration.cli.core import entry_point, main
from registration.cli.parser import build_parser

__all__ = ["build_parser", "entry_point", "main"]
