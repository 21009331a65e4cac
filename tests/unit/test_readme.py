"""The README is the front door and docs/ the reference: their commands, links and facts must hold.

- every `encord-register ...` command in README.md and docs/*.md parses with the CLI's parser;
- `make demo` and `make test` are on the README's first screen, and the README stays short;
- every page the README links exists, every relative link (and #anchor) in the README, docs/
  and bench/README.md resolves, and every docs page is reachable from the README;
- every repository path the pages name in backticks exists (so they follow the code's layout);
- docs/exit-codes.md documents every `ExitStatus`.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from pathlib import Path

import pytest

from registration.cli import build_parser
from registration.exit_codes import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BENCH_README = ROOT / "bench" / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md")), BENCH_README]
#: The reference pages the README must link (docs/troubleshooting.md is named by CLI hints).
REQUIRED_PAGES = [
    "docs/access-stack.md",
    "docs/manifest.md",
    "docs/register.md",
    "docs/verify.md",
    "docs/schema.md",
    "docs/ci.md",
    "docs/troubleshooting.md",
    "docs/exit-codes.md",
    "docs/local-walkthrough.md",
    "docs/development.md",
    "bench/README.md",
]
MAX_README_LINES = 250
FIRST_SCREEN_LINES = 24
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "<<", "2>", "("}
_FENCED = re.compile(r"^```[a-z]*\n.*?^```", flags=re.S | re.M)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_REPO_PATH = re.compile(r"`((?:registration|stacks|tests|demo|bench|docs|\.github)/[\w./*-]*)`")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def without_code_blocks(text: str) -> str:
    """The text with fenced code blocks removed (their `#` lines are not headings)."""
    return _FENCED.sub("", text)


def _shell_words(line: str) -> list[str]:
    """A command line's words, up to the first shell operator (`|| echo ...`, `> file`)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    for word in lexer:
        if word in SHELL_OPERATORS:
            break
        words.append(word)
    return words


def commands_in(path: Path) -> list[str]:
    """Every `encord-register ...` command line in code blocks and inline code of a page."""
    text = path.read_text(encoding="utf-8")
    found: list[str] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if "encord-register " in line and not line.startswith("#"):
                found.append(line[line.index("encord-register ") :])
    for inline in re.findall(r"`([^`\n]*encord-register [^`\n]*)`", without_code_blocks(text)):
        found.append(inline[inline.index("encord-register ") :])
    return found


def all_commands() -> list[tuple[str, str]]:
    return [(_rel(page), command) for page in PAGES for command in commands_in(page)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    seen: Counter[str] = Counter()
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", without_code_blocks(path.read_text()), re.M):
        base = slug(heading)
        anchors.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return anchors


def links_of(path: Path) -> list[str]:
    return _LINK.findall(without_code_blocks(path.read_text(encoding="utf-8")))


def relative_links() -> list[tuple[str, str]]:
    return [
        (_rel(page), link)
        for page in PAGES
        for link in links_of(page)
        if not re.match(r"^[a-z]+:", link)  # http:, https:, mailto:
    ]


# --- the front door -------------------------------------------------------------------------


def test_the_two_commands_are_on_the_first_screen() -> None:
    first_screen = "\n".join(README.read_text().splitlines()[:FIRST_SCREEN_LINES])
    assert "make demo" in first_screen and "make test" in first_screen


def test_the_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines: move reference to docs/"


def test_the_readme_walks_from_clone_to_registered_data() -> None:
    text = README.read_text()
    assert "## From clone to registered data" in text
    steps = re.findall(r"^\d+\. \*\*", text, flags=re.M)
    assert len(steps) >= 8
    for command in ("npx cdk deploy", "verify", "manifest", "register"):
        assert f"{command}" in text
    for data_type in ("images", "videos", "image groups", "image sequences", "DICOM", "NIfTI"):
        assert f"| {data_type}" in text, data_type


@pytest.mark.parametrize("page", REQUIRED_PAGES)
def test_the_readme_links_each_reference_page(page: str) -> None:
    assert (ROOT / page).is_file(), page
    assert page in links_of(README), f"README.md does not link {page}"


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    linked = {(ROOT / link.split("#")[0]).resolve() for link in links_of(README)}
    for page in DOCS.glob("*.md"):
        assert page.resolve() in linked, f"{_rel(page)} is not linked from README.md"


# --- commands, links and paths --------------------------------------------------------------


@pytest.mark.parametrize(("page", "command"), all_commands())
def test_every_command_parses(page: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = _shell_words(command)[1:]
    if len(args) < 2 or args[0].startswith("-") or "..." in command:
        pytest.skip("a command's name, not a command line")
    if "--help" in args:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(args)
        assert exit_info.value.code == 0, f"{page}: {command}"
        capsys.readouterr()
        return
    build_parser().parse_args(args)  # exits (SystemExit) on an unknown flag or command


def test_the_pages_have_commands_to_check() -> None:
    pages = {page for page, _ in all_commands()}
    for page in ("README.md", "docs/manifest.md", "docs/register.md", "docs/verify.md"):
        assert page in pages, page


@pytest.mark.parametrize(("page", "link"), relative_links())
def test_every_relative_link_resolves(page: str, link: str) -> None:
    source = ROOT / page
    target_part, _, anchor = link.partition("#")
    target = (source.parent / target_part).resolve() if target_part else source
    assert target.exists(), f"{page}: {link} does not exist"
    assert ROOT in target.parents or target == ROOT, f"{page}: {link} leaves the repository"
    if anchor and target.suffix == ".md":
        assert anchor in anchors_of(target), f"{page}: no heading for #{anchor} in {target.name}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_repository_path_named_exists(page: Path) -> None:
    missing = []
    for path in _REPO_PATH.findall(without_code_blocks(page.read_text(encoding="utf-8"))):
        exists = any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()
        if not exists:
            missing.append(path)
    assert not missing, f"{_rel(page)} names paths that do not exist: {missing}"


def test_no_page_teaches_an_api_that_is_gone() -> None:
    for page in PAGES:
        assert "registration.commands" not in page.read_text(), _rel(page)


# --- exit codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(ExitStatus), ids=lambda s: s.name)
def test_exit_codes_page_documents_every_status(status: ExitStatus) -> None:
    text = (DOCS / "exit-codes.md").read_text()
    assert f"| {int(status)} | `{status.name}` |" in text


def test_exit_codes_page_documents_nothing_else() -> None:
    text = (DOCS / "exit-codes.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", text, flags=re.M)
    assert {(int(code), name) for code, name in rows} == {(int(s), s.name) for s in ExitStatus}
