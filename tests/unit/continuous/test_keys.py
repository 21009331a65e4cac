"""An event's key resolved against S3: the key as given, then its form-decoded spelling."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from registration.continuous import keys


class FakeS3:
    """HeadObject answers from a dict; a missing key answers 404, or 403 when not `listable`
    (as S3 answers a caller without s3:ListBucket)."""

    def __init__(self, objects: dict[str, str], *, listable: bool = True) -> None:
        self.objects = objects
        self.listable = listable
        self.asked: list[str] = []

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.asked.append(Key)
        if Key in self.objects:
            return {"ContentLength": 3, "ETag": f'"{self.objects[Key]}"'}
        code = "404" if self.listable else "403"
        raise ClientError({"Error": {"Code": code, "Message": "x"}}, "HeadObject")


def test_the_spellings_of_a_key() -> None:
    assert keys.spellings("a/b.jpg") == ["a/b.jpg"]
    assert keys.spellings("a/red+flower%C3%A9.jpg") == [
        "a/red+flower%C3%A9.jpg",
        "a/red floweré.jpg",
    ]


@pytest.mark.parametrize("listable", [True, False])
def test_the_form_decoded_spelling_is_found_with_or_without_list_permission(
    listable: bool,
) -> None:
    s3 = FakeS3({"a/red flower.jpg": "e1"}, listable=listable)
    found = keys.resolve(s3, "b", "a/red+flower.jpg")
    assert found is not None and found.key == "a/red flower.jpg"
    assert (found.size, found.etag, found.storage_class) == (3, "e1", "STANDARD")


def test_the_etag_picks_between_two_existing_spellings() -> None:
    s3 = FakeS3({"a/x+y.jpg": "plus", "a/x y.jpg": "space"})
    assert keys.resolve(s3, "b", "a/x+y.jpg", "space").key == "a/x y.jpg"  # type: ignore[union-attr]
    assert keys.resolve(s3, "b", "a/x+y.jpg", "plus").key == "a/x+y.jpg"  # type: ignore[union-attr]
    assert keys.resolve(s3, "b", "a/x+y.jpg").key == "a/x+y.jpg"  # type: ignore[union-attr]


def test_a_deleted_object_is_missing_with_list_permission_and_an_error_without() -> None:
    assert keys.resolve(FakeS3({}), "b", "a/gone.jpg") is None
    with pytest.raises(keys.Denied, match="deleted, or the function may not read it"):
        keys.resolve(FakeS3({}, listable=False), "b", "a/gone.jpg")
    assert keys.exists(FakeS3({}, listable=False), "b", "a/gone.jpg") is None


def test_a_key_with_a_dot_segment_is_not_asked_for() -> None:
    s3 = FakeS3({})
    assert keys.resolve(s3, "b", "a/../b.jpg") is not None and s3.asked == []
