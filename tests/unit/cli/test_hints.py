"""Error hints: specific or none, and every section of the docs they name exists.

An error without a hint of its own used to get "see docs/troubleshooting.md", a page that
says nothing about most errors. Now a kind of error names its own section (credentials,
internal errors) or nothing; these tests read every hint the code can print.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registration.cli import main
from registration.errors import TROUBLESHOOTING_PAGE, AuthError, RegisterError, UsageError
from registration.exit_codes import ExitStatus
from tests.unit.test_readme import anchors_of

ROOT = Path(__file__).resolve().parents[3]
CODE = sorted((ROOT / "registration").rglob("*.py"))
_CALL = re.compile(r"""\btroubleshooting\(\s*["']([^"']*)["']\s*\)""")
_DOC_LINK = re.compile(r"\bdocs/([\w-]+\.md)(?:#([\w-]+))?")


def _references() -> list[tuple[str, str, str | None]]:
    """(file, docs page, anchor or None) for every docs page the code names, hints included."""
    found = []
    for path in CODE:
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        found += [(name, Path(TROUBLESHOOTING_PAGE).name, a) for a in _CALL.findall(text)]
        found += [(name, page, anchor or None) for page, anchor in _DOC_LINK.findall(text)]
    return found


def test_the_code_names_troubleshooting_sections() -> None:
    anchors = {a for _, page, a in _references() if page == "troubleshooting.md" and a}
    assert {"credentials", "internal-errors"} <= anchors


@pytest.mark.parametrize(("source", "page", "anchor"), _references())
def test_every_docs_section_the_code_names_exists(source: str, page: str, anchor: str) -> None:
    path = ROOT / "docs" / page
    assert path.is_file(), f"{source} names docs/{page}, which does not exist"
    if anchor:
        assert anchor in anchors_of(path), f"{source} names docs/{page}#{anchor}: no such section"


def test_no_hint_sends_the_user_to_the_whole_troubleshooting_page() -> None:
    """A hint to the whole page, without a section, is the generic one this replaced."""
    for path in CODE:
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"see (\S*/)?troubleshooting\.md(?!#)", line):
                pytest.fail(f"{path.name}: {line.strip()}")


def _fail_with(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    import registration.cli.core as cli

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)

    def fail(args: object, console: object) -> int:
        raise exc

    for action in parser._subparsers._group_actions[0].choices.values():  # type: ignore[union-attr]
        action.set_defaults(_run=fail)


@pytest.mark.parametrize(
    ("exc", "status", "hint"),
    [
        (UsageError("--plan 'x': choose one of free, team"), ExitStatus.USAGE, None),
        (RegisterError("something failed"), ExitStatus.FAILURE, None),
        (AuthError("Encord refused the key"), ExitStatus.AUTH, "#credentials"),
        (AuthError("denied", hint="grant s3:ListBucket"), ExitStatus.AUTH, "grant s3:ListBucket"),
        (ValueError("boom"), ExitStatus.FAILURE, "#internal-errors"),
    ],
)
def test_an_error_gets_its_own_hint_or_none(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exc: Exception,
    status: ExitStatus,
    hint: str | None,
) -> None:
    _fail_with(monkeypatch, exc)
    assert main(["manifest", "--bucket", "b", "--out", "o"]) == status
    err = capsys.readouterr().err
    hints = re.findall(r"^  hint: (.*)$", err, re.M)
    if hint is None:
        assert hints == [], err
    else:
        assert len(hints) == 1 and hint in hints[0], err
