"""The file form -> the SDK's `DataUploadItems`: every kind, the flags, and refusals with paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from encord.orm import storage

from registration.encord import formats as f
from registration.encord.schema import registration_schema, validate_document
from registration.encord.upload_items import (
    ItemsRefused,
    file_title,
    problem_at,
    typed_document,
    upload_items,
)

B = "https://b.s3.eu-west-1.amazonaws.com/"
IMAGE_META = {"mimeType": "image/jpeg", "fileSize": 10, "height": 2, "width": 3}
VIDEO_META = {
    "fps": 25.0,
    "duration": 2.0,
    "width": 640,
    "height": 480,
    "file_size": 100,
    "mime_type": "video/mp4",
}
AUDIO_META = {
    "duration": 1.5,
    "file_size": 9,
    "mime_type": "audio/wav",
    "sample_rate": 44100,
    "bit_depth": 16,
    "codec": "pcm",
    "num_channels": 2,
}
FRAMES = {"$encord": {"frames": {"0": {"embedding": [0.5, 0.25]}, "4": {}}}}


def _every_kind() -> dict[str, Any]:
    return {
        "videos": [
            {"objectUrl": B + "v.mp4", "title": "v.mp4", "clientMetadata": FRAMES},
            {"objectUrl": B + "w.mp4", "title": "w.mp4", "videoMetadata": VIDEO_META},
        ],
        "images": [{"objectUrl": B + "i.jpg", "title": "i.jpg", "imageMetadata": IMAGE_META}],
        "image_groups": [
            {
                "title": "grp",
                "objectUrl_0": B + "g/1.jpg",
                "objectUrl_2": B + "g/3.jpg",
                "objectUrl_1": B + "g/2.jpg",
                "createVideo": False,
                "clientMetadata": {"site": "n"},
            },
            {"title": "seq", "objectUrl_0": B + "s/1.jpg", "createVideo": True},
        ],
        "dicom_series": [
            {"title": "ct", "objectUrl_0": B + "ct/a%20b.dcm", "objectUrl_1": B + "ct/c.dcm"}
        ],
        "audio": [{"objectUrl": B + "a.wav", "title": "a.wav", "audioMetadata": AUDIO_META}],
        "text": [
            {
                "objectUrl": B + "t.txt",
                "title": "t.txt",
                "textMetadata": {"file_size": 4, "mime_type": "text/plain"},
            }
        ],
        "pdf": [
            {
                "objectUrl": B + "p.pdf",
                "title": "p.pdf",
                "pdfMetadata": {"file_size": 5, "num_pages": 3},
            }
        ],
        "nifti": [{"objectUrl": B + "n.nii.gz", "title": "n.nii.gz"}],
        "skip_duplicate_urls": True,
        "upsert_metadata": True,
    }


def test_every_kind_reaches_the_typed_form_with_urls_titles_order_and_metadata():
    doc = _every_kind()
    validate_document(doc, "every-kind")  # a real file: the shipped schema accepts it

    wire = upload_items(doc, "every-kind").to_dict()  # what the SDK sends as dataItems

    assert [v["objectUrl"] for v in wire["videos"]] == [B + "v.mp4", B + "w.mp4"]
    assert wire["videos"][0]["clientMetadata"] == FRAMES
    assert wire["videos"][1]["videoMetadata"] == {
        "fps": 25.0,
        "duration": 2.0,
        "width": 640,
        "height": 480,
        "fileSize": 100,
        "mimeType": "video/mp4",
    }
    assert wire["images"] == [
        {
            "objectUrl": B + "i.jpg",
            "title": "i.jpg",
            "clientMetadata": {},
            "externalFileType": "IMAGE",
            "imageMetadata": IMAGE_META,
        }
    ]
    group, sequence = wire["imageGroups"]
    assert [i["url"] for i in group["images"]] == [B + "g/1.jpg", B + "g/2.jpg", B + "g/3.jpg"]
    assert (group["title"], group["createVideo"], group["clientMetadata"]) == (
        "grp",
        False,
        {"site": "n"},
    )
    assert (sequence["title"], sequence["createVideo"]) == ("seq", True)
    (series,) = wire["dicomSeries"]
    assert series["title"] == "ct"
    assert series["dicomFiles"] == [
        {"url": B + "ct/a%20b.dcm", "title": "a b.dcm"},
        {"url": B + "ct/c.dcm", "title": "c.dcm"},
    ]
    assert wire["audio"][0]["audioMetadata"]["sampleRate"] == 44100
    assert wire["text"][0]["textMetadata"] == {"fileSize": 4, "mimeType": "text/plain"}
    assert wire["pdf"][0]["pdfMetadata"] == {"fileSize": 5, "numPages": 3}
    assert wire["nifti"][0]["objectUrl"] == B + "n.nii.gz"
    assert (wire["skipDuplicateUrls"], wire["upsertMetadata"]) == (True, True)
    # The SDK's own model reads back exactly what it sends.
    assert storage.DataUploadItems.model_validate(wire).to_dict() == wire


def test_refusals_name_every_item_and_the_json_path_in_the_file():
    doc = _every_kind()
    doc["images"].append(
        {"objectUrl": B + "j.jpg", "title": "j.jpg", "imageMetadata": {"mimeType": "image/png"}}
    )
    doc["videos"][1]["videoMetadata"] = {**VIDEO_META, "fps": "fast", "bitrate": 3}

    with pytest.raises(ItemsRefused) as caught:
        upload_items(doc, "manifest-00007.json")

    found = {(p.item, p.path) for p in caught.value.problems}
    assert ("images[1] (j.jpg)", "$.images[1].imageMetadata.fileSize") in found
    assert ("images[1] (j.jpg)", "$.images[1].imageMetadata.height") in found
    assert ("videos[1] (w.mp4)", "$.videos[1].videoMetadata.fps") in found
    assert ("videos[1] (w.mp4)", "$.videos[1].videoMetadata.bitrate") in found
    message = str(caught.value)
    assert message.startswith("manifest-00007.json: refused by the encord SDK's models")
    assert "nothing of it was sent" in message
    assert caught.value.exit_status == 2


def test_group_file_errors_point_at_the_numbered_url_key():
    doc = {"dicom_series": [{"title": "ct", "objectUrl_0": B + "1.dcm", "objectUrl_1": B}]}
    typed = typed_document(doc)
    loc = ("dicomSeries", 0, "dicomFiles", 1, "url")
    assert typed["dicomSeries"][0]["dicomFiles"][1]["url"] == B
    problem = problem_at(doc, loc, "bad")
    assert (problem.item, problem.path) == ("dicom_series[0] (ct)", "$.dicom_series[0].objectUrl_1")
    flag = problem_at(doc, ("skipDuplicateUrls",), "bad")
    assert (flag.item, flag.path) == (None, "$.skip_duplicate_urls")


def test_many_problems_are_all_kept_and_the_message_is_bounded():
    doc = {
        "images": [
            {"objectUrl": B + f"{n}.jpg", "imageMetadata": {"mimeType": "x"}} for n in range(30)
        ]
    }
    with pytest.raises(ItemsRefused) as caught:
        upload_items(doc, "m.json")
    assert len(caught.value.problems) == 90  # three missing fields each
    assert "and 70 more" in str(caught.value)


def test_file_titles_come_from_the_last_url_segment():
    assert file_title(B + "ct/series%201/img%2B1.dcm") == "img+1.dcm"
    assert file_title("arn:aws:s3::123456789012:accesspoint/m.mrap/ct/x.dcm") == "x.dcm"
    assert len(file_title(B + "a" * 400)) == 300


def test_the_media_metadata_table_matches_the_sdk_models_and_the_shipped_schema():
    schema = registration_schema()
    item_defs = {
        key: schema["$defs"][schema["properties"][key]["items"]["$ref"].rsplit("/", 1)[1]]
        for key in f.TOP_LEVEL_ORDER
    }
    for kind, form in f.MEDIA_METADATA.items():
        model = getattr(storage, form.sdk_class)
        names = set(model.model_fields) | {i.alias for i in model.model_fields.values()}
        assert set(form.file_fields) <= names, kind
        assert len(form.file_fields) == len(model.model_fields), kind
        upload_model = {
            f.VIDEO: storage.DataUploadVideo,
            f.IMAGE: storage.DataUploadImage,
            f.AUDIO: storage.DataUploadAudio,
            f.TEXT: storage.DataUploadText,
            f.PDF: storage.DataUploadPDF,
        }[kind]
        assert form.sdk_field in upload_model.model_fields, kind
        props = item_defs[f.TOP_LEVEL_KEY[kind]]["properties"]
        assert set(props[form.file_key]["properties"]) == set(form.file_fields), kind


def test_the_typed_document_is_plain_json_and_leaves_the_file_form_untouched():
    doc = _every_kind()
    before = json.dumps(doc, sort_keys=True)
    typed_document(doc)
    assert json.dumps(doc, sort_keys=True) == before


def test_the_register_docs_show_the_format_tables_as_the_code_has_them():
    text = (Path(__file__).resolve().parents[3] / "docs" / "register.md").read_text()
    for fact in f.FORMAT_FACTS:
        assert f"| {fact.subject} | {fact.status} | {fact.where_to_check} |" in text
    for kind, media in f.MEDIA_METADATA.items():
        fields = ", ".join(f"`{name}`" for name in media.file_fields)
        typed = f"`{media.sdk_field}` | `{media.sdk_class}`"
        assert f"| {kind} | `{media.file_key}` | {fields} | {typed} |" in text
