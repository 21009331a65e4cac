"""Every skip reason is explained in the manifest docs' table, in the words the files use."""

from __future__ import annotations

from pathlib import Path

import pytest

from registration.build import skips

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize("reason", sorted(skips.REASONS))
def test_every_skip_reason_has_a_row_in_the_manifest_docs(reason: str) -> None:
    assert f"| `{reason}` |" in (DOCS / "manifest.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("reason", [skips.DOT_SEGMENT, skips.NOT_FOUND])
def test_the_new_skip_reasons_are_in_troubleshooting(reason: str) -> None:
    assert f"`{reason}`" in (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
