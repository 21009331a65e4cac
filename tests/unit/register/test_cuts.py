"""Cutting files from the built ones: every item once, in order, within the byte cap, resumable."""

from __future__ import annotations

import json
from pathlib import Path

from registration.register.adaptive import SizeController
from registration.register.cuts import AdaptiveCuts
from registration.register.files import iter_manifest_files
from registration.register.state import StateStore
from tests.standin.testing import image_urls, write_manifest


def _built(directory: Path) -> list[str]:
    urls = image_urls("a", 30) + image_urls("b", 25)
    write_manifest(directory, 1, images=urls[:30], skip_duplicate_urls=True)
    write_manifest(directory, 2, images=urls[30:], skip_duplicate_urls=True)
    return urls


def _cuts(tmp_path: Path, sizes: SizeController, max_bytes: int = 99_000_000) -> AdaptiveCuts:
    return AdaptiveCuts(
        StateStore(tmp_path / "state.sqlite"),
        "folder",
        list(iter_manifest_files(tmp_path / "built")),
        tmp_path / "cuts",
        sizes,
        max_bytes=max_bytes,
    )


def _urls(files) -> list[str]:
    return [i["objectUrl"] for m in files for i in m.load()["images"]]


def test_cuts_cover_the_stream_in_order_across_built_files(tmp_path):
    urls = _built(tmp_path / "built")
    cuts = _cuts(tmp_path, SizeController(maximum=40, start=5, minimum=1))
    files = list(cuts)
    assert [m.units for m in files] == [5, 20, 30]
    assert _urls(files) == urls
    assert all(m.load()["skip_duplicate_urls"] is True for m in files)
    assert cuts.files() == files


def test_a_cut_stops_at_the_byte_cap_and_the_file_is_exactly_what_was_counted(tmp_path):
    urls = _built(tmp_path / "built")
    cap = 1_000
    files = list(_cuts(tmp_path, SizeController(maximum=40, start=40), max_bytes=cap))
    assert _urls(files) == urls
    assert max(m.path.stat().st_size for m in files) <= cap
    assert all(len(m.path.read_bytes()) > cap - 200 for m in files[:-1])  # filled, not halved
    for m in files:
        assert m.path.read_bytes() == json.dumps(m.load(), separators=(",", ":")).encode() + b"\n"


def test_a_second_run_resumes_the_recorded_cuts_and_cuts_the_rest(tmp_path):
    urls = _built(tmp_path / "built")
    first = _cuts(tmp_path, SizeController(maximum=40, start=5, minimum=1))
    it = iter(first)
    taken = [next(it), next(it)]  # then the run stops
    assert [m.units for m in taken] == [5, 20]

    again = _cuts(tmp_path, SizeController(maximum=40, start=5, minimum=1))
    assert again.total_units == 55
    files = list(again)
    assert files[:2] == taken
    assert [m.units for m in files] == [5, 20, 30]  # resumed at 20: the next is 40, cut at the end
    assert _urls(files) == urls
