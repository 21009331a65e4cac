"""Multi-line `-c` values, which the CDK CLI cuts at their first line break, restored.

The CDK CLI splits each ``-c KEY=VALUE`` with the JavaScript pattern ``/=(.*)/``, whose ``.``
stops at a line break: ``-c encord='{`` + newline + ``...}'`` reaches the app as ``{``. The
whole value is still on the CLI's own command line, and the CLI is an ancestor of the app's
process (it runs the app, directly or through a shell). So, where the operating system shows
a process's arguments (Linux's ``/proc``), `restore_cut_values` finds the argument the cut
value came from and gives the app the whole of it. Where it does not, or no ancestor holds
such an argument, the values are left as they are, and the configuration check explains the
cut and how to write the value on one line (`stacks.config`).

Only a value that is exactly the part before a line break of one of those arguments is
replaced, by that argument's value: nothing the user did not pass reaches the app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

#: How far up the process tree the CDK CLI is looked for (app <- shell <- node <- npx).
MAX_ANCESTORS: Final = 6
#: Where Linux shows each process's arguments and parent.
PROC: Final = Path("/proc")

#: Where JavaScript's ``.`` stops, and so where the CLI cuts a value.
_LINE_BREAK: Final = re.compile("[\n\r\u2028\u2029]")

Argv = Sequence[str]


def restore_cut_values(context: Mapping[str, Any], command_lines: Iterable[Argv]) -> dict[str, Any]:
    """`context` with every string value the CLI cut at a line break restored.

    `command_lines`: the argument lists of the app's ancestors (`ancestor_command_lines`).
    """
    cut = {key: value for key, value in context.items() if isinstance(value, str)}
    if not cut:
        return dict(context)
    restored: dict[str, Any] = dict(context)
    for argv in command_lines:
        for argument in _context_arguments(argv):
            key, sep, value = argument.partition("=")
            if not sep or key not in cut or restored[key] != cut[key]:
                continue  # not a value of the app's context, or restored already
            first_line = _LINE_BREAK.split(value, maxsplit=1)[0]
            if len(value) > len(first_line) and first_line == cut[key]:
                restored[key] = value
    return restored


def _context_arguments(argv: Argv) -> Iterator[str]:
    """The ``KEY=VALUE`` arguments of ``-c`` / ``--context`` in one command line."""
    for index, argument in enumerate(argv):
        if argument in ("-c", "--context") and index + 1 < len(argv):
            yield argv[index + 1]
        elif argument.startswith("--context="):
            yield argument.removeprefix("--context=")


def ancestor_command_lines(
    pid: int, read: Callable[[Path], bytes] = Path.read_bytes
) -> Iterator[Argv]:
    """The argument lists of `pid`'s ancestors, nearest first (none where /proc is missing)."""
    for _ in range(MAX_ANCESTORS):
        try:
            stat = read(PROC / str(pid) / "stat").decode("utf-8", "replace")
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            pid = int(stat.rsplit(")", 1)[1].split()[1])
            if pid <= 1:
                return
            raw = read(PROC / str(pid) / "cmdline")
        except (OSError, IndexError, ValueError):
            return
        yield raw.decode("utf-8", "surrogateescape").rstrip("\0").split("\0")
