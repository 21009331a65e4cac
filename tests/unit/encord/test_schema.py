"""The shipped JSON Schema: accepts what the writer produces, rejects malformed files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registration.encord import formats as f
from registration.encord.files import iter_manifest_paths, iter_object_urls, load_manifest
from registration.encord.schema import ManifestInvalid, registration_schema, validate_document
from registration.errors import InputError

URL = "https://b.s3.eu-west-1.amazonaws.com/"


def _valid() -> dict[str, Any]:
    return {
        "videos": [
            {
                "objectUrl": URL + "v.mp4",
                "title": "v.mp4",
                "clientMetadata": {"keyframes": [0, 5]},
                "videoMetadata": {"fps": 25, "duration": 2.5, "width": 640, "height": 480},
            }
        ],
        "images": [{"objectUrl": URL + "a%20b.jpg", "title": "a b.jpg"}],
        "image_groups": [
            {
                "title": "g",
                "objectUrl_0": URL + "g/1.jpg",
                "objectUrl_1": URL + "g/2.jpg",
                "createVideo": True,
            }
        ],
        "dicom_series": [{"title": "s", "objectUrl_0": URL + "s/1.dcm"}],
        "audio": [{"objectUrl": URL + "a.wav"}],
        "text": [{"objectUrl": URL + "t.txt"}],
        "pdf": [{"objectUrl": URL + "p.pdf"}],
        "nifti": [{"objectUrl": URL + "n.nii.gz"}],
        "skip_duplicate_urls": True,
        "upsert_metadata": False,
    }


def test_schema_accepts_every_kind() -> None:
    validate_document(_valid(), "ok.json")


def test_schema_top_level_keys_mirror_the_formats_table() -> None:
    properties = set(registration_schema()["properties"])
    assert set(f.TOP_LEVEL_ORDER) | {f.SKIP_DUPLICATE_URLS_KEY, f.UPSERT_METADATA_KEY} == properties
    assert set(f.TOP_LEVEL_KEY.values()) == set(f.TOP_LEVEL_ORDER)


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["images"][0].update(objectUrl=URL + "a b.jpg"), "$.images[0].objectUrl"),
        (lambda d: d["images"][0].pop("objectUrl"), "$.images[0]"),
        (lambda d: d["images"][0].update(title="x" * 301), "$.images[0].title"),
        (lambda d: d["images"][0].update(objectUrl=URL + "x" * 16384), "$.images[0].objectUrl"),
        (lambda d: d["images"][0].update(clientMetadata="text"), "$.images[0].clientMetadata"),
        (lambda d: d["image_groups"][0].pop("title"), "$.image_groups[0]"),
        (lambda d: d["image_groups"][0].update(objectUrl_01="x"), "$.image_groups[0]"),
        (
            lambda d: d["videos"][0]["clientMetadata"].update(keyframes=["a"]),
            "$.videos[0].clientMetadata.keyframes[0]",
        ),
        (lambda d: d.update(skip_duplicate_urls="yes"), "$.skip_duplicate_urls"),
        (lambda d: d.update(photos=[]), "$"),
        (lambda d: d["dicom_series"][0].update(createVideo=True), "$.dicom_series[0]"),
    ],
)
def test_schema_rejects_malformed_documents_naming_item_and_path(mutate: Any, where: str) -> None:
    document = _valid()
    mutate(document)
    with pytest.raises(ManifestInvalid) as caught:
        validate_document(document, "manifest-00007.json")
    message = str(caught.value)
    assert message.startswith("manifest-00007.json: ")
    assert caught.value.path == where
    if where.count("[") >= 1 and where != "$":
        assert caught.value.item is not None and caught.value.item in message


def test_load_manifest_and_urls(tmp_path: Path) -> None:
    path = tmp_path / "manifest-00001.json"
    path.write_text(json.dumps(_valid()))
    document = load_manifest(path)
    urls = list(iter_object_urls(document))
    assert urls[0] == URL + "v.mp4"
    assert URL + "g/2.jpg" in urls and URL + "n.nii.gz" in urls
    assert len(urls) == 9


def test_load_manifest_rejects_corrupt_and_invalid_files(tmp_path: Path) -> None:
    corrupt = tmp_path / "manifest-00001.json"
    corrupt.write_text('{"images": [')
    with pytest.raises(InputError, match=r"manifest-00001\.json is not valid JSON"):
        load_manifest(corrupt)
    invalid = tmp_path / "manifest-00002.json"
    invalid.write_text(json.dumps({"images": [{"title": "no url"}]}))
    with pytest.raises(InputError, match=r"manifest-00002.json: item images\[0\] \(no url\)"):
        load_manifest(invalid)


def test_manifest_paths_in_order(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no manifest"):
        iter_manifest_paths(tmp_path)
    for name in (
        "manifest-00002.json",
        "manifest-00010.json",
        "manifest-00001.json",
        "summary.json",
        "manifest-00001.csv",
    ):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in iter_manifest_paths(tmp_path)] == [
        "manifest-00001.json",
        "manifest-00002.json",
        "manifest-00010.json",
    ]
