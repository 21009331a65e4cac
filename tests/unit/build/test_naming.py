"""Classification by extension and titles within Encord's 300-character limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registration.build.classify import Classifier, extension_of, parse_type_map
from registration.build.titles import base_title, shorten
from registration.encord import formats as f
from registration.encord.limits import MAX_TITLE_CHARS
from registration.errors import UsageError


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("a/b/photo.JPG", f.IMAGE),
        ("a/b/photo.jpeg", f.IMAGE),
        ("clip.Mp4", f.VIDEO),
        ("brain.nii.gz", f.NIFTI),
        ("brain.NII.GZ", f.NIFTI),
        ("brain.nii", f.NIFTI),
        ("archive.tar.gz", None),
        ("slice.dcm", f.DICOM),
        ("song.flac", f.AUDIO),
        ("doc.PDF", f.PDF),
        ("notes.txt", f.TEXT),
        ("page.html", f.TEXT),
        ("no-extension", None),
        ("dir.with.dots/no-extension", None),
        ("weird.xyz", None),
    ],
)
def test_classification_by_extension(key: str, kind: str | None) -> None:
    assert Classifier().kind_of(key) == kind


def test_extension_of_handles_double_extensions_and_folders() -> None:
    assert extension_of("a.b/c.nii.gz") == "nii.gz"
    assert extension_of("a.b/c") == ""
    assert extension_of("x.GZ") == "gz"


def test_type_map_overrides_the_table() -> None:
    classifier = Classifier(parse_type_map([".JFIF=image", "txt=pdf", "gz=nifti"]))
    assert classifier.kind_of("a.jfif") == f.IMAGE
    assert classifier.kind_of("a.txt") == f.PDF
    assert classifier.kind_of("a.tar.gz") == f.NIFTI


@pytest.mark.parametrize(
    ("pair", "message"),
    [("jfif", "expected EXT=TYPE"), ("=image", "expected EXT=TYPE"), ("x=hologram", "unknown")],
)
def test_bad_type_map_is_a_usage_error(pair: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_type_map([pair])


def test_titles_key_and_basename() -> None:
    assert base_title("a/b/c.jpg", "key") == "a/b/c.jpg"
    assert base_title("a/b/c.jpg", "basename") == "c.jpg"
    assert base_title("a/b/", "basename") == "b"


def test_short_titles_are_unchanged() -> None:
    title = "x" * MAX_TITLE_CHARS
    assert shorten(title) == title


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=MAX_TITLE_CHARS + 1, max_size=1000),
    st.text(min_size=1, max_size=50),
)
def test_long_titles_shorten_deterministically_without_collisions(tail: str, head: str) -> None:
    a = shorten(head + tail)
    b = shorten(head + "!" + tail)
    assert len(a) == MAX_TITLE_CHARS and len(b) == MAX_TITLE_CHARS
    assert a == shorten(head + tail)  # deterministic
    assert a != b  # same tail, different titles: different short titles
    assert a.endswith(tail[-100:])  # the specific end of the path is kept
