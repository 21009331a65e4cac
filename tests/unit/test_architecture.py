"""The layout's rules, checked on the source: no import cycles, each dependency in its one place.

The import graph is read from the code (every `import`, module-level or inside a function),
so a cycle hidden behind a function-local import is still a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("registration", "stacks")
CDK_MODULES = ("aws_cdk", "constructs", "cdk_nag", "jsii")
MAX_LINES = 400
"""A module longer than this says why at its top (a docstring line starting `Long:`)."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the file; `from a import b` gives `a.b`
    when `a.b` is a module, else `a`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield (candidate if candidate in MODULES else node.module), node.lineno


def _graph() -> dict[str, set[str]]:
    return {
        name: {target for target, _ in _imports(path) if target in MODULES and target != name}
        for name, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_modules_were_found() -> None:
    assert "registration.cli.core" in MODULES and "stacks.encord_access" in MODULES
    assert len(MODULES) > 60


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check below must be able to fail."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_helper_never_imports_the_cdk() -> None:
    offenders = [
        f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}"
        for name in MODULES
        if name.startswith("registration")
        for target, line in _imports(MODULES[name])
        if target.split(".")[0] in CDK_MODULES
    ]
    assert offenders == []


def test_only_the_encord_package_imports_the_sdk() -> None:
    offenders = [
        f"{MODULES[name].relative_to(ROOT)}:{line}"
        for name in MODULES
        if not name.startswith("registration.encord")
        for target, line in _imports(MODULES[name])
        if target == "encord" or target.startswith("encord.")
    ]
    assert offenders == []


def _calls(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                yield func.id, node.lineno
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                yield f"{func.value.id}.{func.attr}", node.lineno
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            and node.attr in ("stdout", "stderr")
        ):
            yield f"sys.{node.attr}", node.lineno


def test_no_importlib_tricks() -> None:
    """Modules are imported by name, never looked up at run time."""
    offenders = [
        f"{MODULES[name].relative_to(ROOT)}:{line} {call}"
        for name in MODULES
        for call, line in _calls(MODULES[name])
        if call in ("importlib.import_module", "import_module", "__import__")
    ]
    assert offenders == []


def test_only_the_cli_prints_or_exits() -> None:
    """The stages report through `registration.reporter.Reporter`; only `cli/` writes."""
    offenders = [
        f"{MODULES[name].relative_to(ROOT)}:{line} {call}"
        for name in MODULES
        if name.startswith("registration") and not name.startswith("registration.cli")
        for call, line in _calls(MODULES[name])
        if call in ("print", "sys.exit", "exit", "sys.stdout", "sys.stderr")
    ]
    assert offenders == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_long_modules_say_why(name: str) -> None:
    path = MODULES[name]
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert any(line.startswith("Long:") for line in docstring.splitlines()), (
        f"{path.relative_to(ROOT)} has {lines} lines: split it, or say why at its top "
        "(a docstring line starting `Long:`)"
    )
