"""Where one arriving object belongs: the build stage's own rules, one object at a time."""

from __future__ import annotations

import pytest

from registration.build import skips
from registration.build.plan import pipeline_options
from registration.build.sources import ObjectRecord
from registration.build.spec import BuildOptions
from registration.continuous.placement import Marker, Member, Placer, Sidecar, Single, Skip
from registration.encord import formats as f

OPTIONS = pipeline_options(
    BuildOptions(image_sequences=("drone/*/frames",), image_groups=("sites/*",))
)
PLACER = Placer(OPTIONS, marker="_COMPLETE")


def place(key: str, size: int | None = 10, storage: str | None = None) -> object:
    return PLACER.place(ObjectRecord("bkt", key, size, storage))


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("images/cat.jpg", Single(f.IMAGE)),
        ("clips/a.MP4", Single(f.VIDEO)),
        ("mri/brain.nii.gz", Single(f.NIFTI)),
        ("drone/f1/frames/frame1.jpg", Member("drone/f1/frames", f.IMAGE_SEQUENCE)),
        ("sites/a/1.png", Member("sites/a", f.IMAGE_GROUP)),
        ("sites/a/notes.txt", Single(f.TEXT)),  # not an image: a file of its own
        ("scans/p1/a.dcm", Member("scans/p1", f.DICOM_SERIES)),
        ("scans/p1/IM0001", Member("scans/p1", f.DICOM_SERIES, tentative=True)),
        ("sites/a/_COMPLETE", Marker("sites/a")),
        ("_COMPLETE", Marker("")),
        ("images/cat.jpg.json", Sidecar(("images/cat.jpg",))),
        ("images/cat.jpg.metadata.json", Sidecar(("images/cat.jpg", "images/cat.jpg.metadata"))),
        ("images/folder/", Skip(skips.FOLDER_MARKER)),
        ("images/x.xyz", Skip(skips.UNKNOWN_TYPE, "xyz")),
    ],
)
def test_each_object_is_placed_as_manifest_would(key: str, expected: object) -> None:
    assert place(key) == expected


def test_empty_and_archived_objects_are_skipped() -> None:
    assert place("images/cat.jpg", size=0) == Skip(skips.EMPTY_OBJECT)
    assert place("images/cat.jpg", storage="GLACIER") == Skip(skips.ARCHIVED, "GLACIER")
    assert place("images/cat.jpg", storage="GLACIER_IR") == Single(f.IMAGE)


def test_a_suffix_alone_is_no_sidecar() -> None:
    assert PLACER.sidecar_candidates("dir/.json") == ()
    assert place("dir/.json") == Single(f.TEXT)


def test_without_a_marker_setting_no_object_is_a_marker() -> None:
    plain = Placer(OPTIONS)
    assert plain.place(ObjectRecord("bkt", "other/_COMPLETE", 1)) == Member(
        "other", f.DICOM_SERIES, tentative=True
    )
