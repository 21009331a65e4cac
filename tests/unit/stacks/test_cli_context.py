"""Multi-line `-c` values the CDK CLI cut at their first line break are restored whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.cli_context import PROC, ancestor_command_lines, restore_cut_values

PRETTY = json.dumps({"externalId": "ext-0123456789", "buckets": [{"name": "b"}]}, indent=2)


def test_a_cut_value_is_restored_from_the_command_line_it_came_from() -> None:
    context = {"encord": "{", "other": "kept"}
    argv = ["node", "cdk", "synth", "-c", f"encord={PRETTY}", "--context", "other=kept"]
    restored = restore_cut_values(context, [["/bin/sh", "-c", "python app.py"], argv])
    assert restored == {"encord": PRETTY, "other": "kept"}
    assert json.loads(restored["encord"])["externalId"] == "ext-0123456789"


def test_the_context_equals_form_and_windows_line_breaks() -> None:
    value = PRETTY.replace("\n", "\r\n")
    restored = restore_cut_values({"encord": "{"}, [["cdk", f"--context=encord={value}"]])
    assert restored["encord"] == value


def test_only_a_value_that_is_the_first_line_of_an_argument_is_replaced() -> None:
    # Same key, but the app's value is not that argument's first line: left alone.
    assert restore_cut_values({"encord": "{}"}, [["cdk", "-c", f"encord={PRETTY}"]]) == {
        "encord": "{}"
    }
    # A one-line value is never replaced, even when it matches the start of an argument.
    assert restore_cut_values({"k": "a"}, [["cdk", "-c", "k=ab"]]) == {"k": "a"}
    # Arguments that are not context values are ignored.
    assert restore_cut_values({"encord": "{"}, [["echo", f"encord={PRETTY}"]]) == {"encord": "{"}
    # Values that are not strings (cdk.json objects) pass through.
    assert restore_cut_values({"encord": {"a": 1}}, [["cdk", "-c", "encord={\n}"]]) == {
        "encord": {"a": 1}
    }


def test_the_nearest_ancestor_wins() -> None:
    nearer, farther = f"encord={PRETTY}", 'encord={\n  "x": 1}'
    restored = restore_cut_values({"encord": "{"}, [["cdk", "-c", nearer], ["cdk", "-c", farther]])
    assert restored["encord"] == PRETTY


def test_ancestors_are_read_from_proc_nearest_first() -> None:
    files = {
        PROC / "30" / "stat": b"30 (python app.py) S 20 30",
        PROC / "20" / "stat": b"20 (sh) S 10 20",
        PROC / "10" / "stat": b"10 (node (cdk)) S 1 10",
        PROC / "20" / "cmdline": b"/bin/sh\0-c\0python app.py\0",
        PROC / "10" / "cmdline": b"node\0cdk\0-c\0encord={\n}\0",
    }

    def read(path: Path) -> bytes:
        return files[path]

    assert list(ancestor_command_lines(30, read)) == [
        ["/bin/sh", "-c", "python app.py"],
        ["node", "cdk", "-c", "encord={\n}"],
    ]


def test_no_proc_means_no_ancestors() -> None:
    def read(path: Path) -> bytes:
        raise FileNotFoundError(path)

    assert list(ancestor_command_lines(os.getpid(), read)) == []


def test_a_real_child_process_finds_its_parents_argument() -> None:
    if not (PROC / str(os.getpid()) / "cmdline").exists():
        pytest.skip("no /proc here: the configuration check explains the cut instead")
    probe = (
        "import json, os; from stacks.cli_context import ancestor_command_lines, "
        "restore_cut_values; print(json.dumps(restore_cut_values({'encord': '{'}, "
        "ancestor_command_lines(os.getpid()))))"
    )
    # The shell is the child's parent; its argv holds the whole multi-line value (the
    # trailing `true` keeps the shell from exec-ing into the child).
    result = subprocess.run(
        ["/bin/sh", "-c", '"$PYTHON" -c "$PROBE"; true', "sh", "-c", f"encord={PRETTY}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHON": sys.executable, "PROBE": probe},
    )
    assert json.loads(result.stdout) == {"encord": PRETTY}
