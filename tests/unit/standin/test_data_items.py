"""The stand-in reads `dataItems` with the SDK's own models and refuses what the SDK never sends."""

from __future__ import annotations

import pytest
from encord.orm.storage import (
    CustomerProvidedImageMetadata,
    DataUploadImage,
    DataUploadImageGroup,
    DataUploadImageGroupImage,
    DataUploadItems,
)

from tests.standin.store import BadRequest, Store, parse_data_items

URL = "https://b.s3.eu-west-1.amazonaws.com/x.jpg"


def _sdk_payload() -> dict:
    """What `add_private_data_to_folder_start(DataUploadItems)` puts under `dataItems`."""
    items = DataUploadItems(
        images=[
            DataUploadImage(
                object_url=URL,
                title="x.jpg",
                client_metadata={"$encord": {"frames": [0]}, "site": "n"},
                image_metadata=CustomerProvidedImageMetadata(
                    mime_type="image/jpeg", file_size=3, height=2, width=1
                ),
            )
        ],
        image_groups=[
            DataUploadImageGroup(
                title="seq",
                images=[
                    DataUploadImageGroupImage(url=URL + "?2"),
                    DataUploadImageGroupImage(url=URL),
                ],
                create_video=True,
            )
        ],
        skip_duplicate_urls=True,
    )
    return items.to_dict()


def test_what_the_sdk_sends_is_parsed_with_metadata_and_order_as_sent():
    units, skip, upsert = parse_data_items(_sdk_payload())
    image, sequence = units
    assert (image.item_type, image.title, image.urls, image.form) == (
        "image",
        "x.jpg",
        (URL,),
        "dataItems",
    )
    assert image.client_metadata == {"$encord": {"frames": [0]}, "site": "n"}
    assert image.media_metadata == {
        "mimeType": "image/jpeg",
        "fileSize": 3,
        "height": 2,
        "width": 1,
    }
    assert (sequence.item_type, sequence.urls) == ("imageSequence", (URL + "?2", URL))
    assert (skip, upsert) == (True, False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["images"][0].update(colour="red"), r"dataItems\.images\[0\]\.colour"),
        (lambda p: p["images"][0]["imageMetadata"].update(depth=8), "imageMetadata.depth"),
        (lambda p: p.update(extraList=[]), "dataItems.extraList"),
        (lambda p: p["images"][0].pop("objectUrl"), "refused by the SDK's models"),
        (lambda p: p["images"][0]["imageMetadata"].pop("width"), "refused by the SDK's models"),
        (lambda p: p["imageGroups"][0].update(title=None), "title is required"),
        (lambda p: p["imageGroups"][0].update(images=[]), "is empty"),
        (lambda p: p["images"][0].update(objectUrl="https://b/x y.jpg"), "bad object URL"),
    ],
)
def test_a_payload_the_sdk_would_not_produce_is_refused(change, message):
    payload = _sdk_payload()
    change(payload)
    with pytest.raises(BadRequest, match=message):
        parse_data_items(payload)


def test_a_job_takes_exactly_one_form_and_stores_the_form_and_metadata():
    store = Store()
    integration = store.add_integration("s3")
    folder = store.create_folder("f", None, None, None).uuid
    body = {"integrationHash": integration, "ignoreErrors": True}
    with pytest.raises(BadRequest, match="exactly one"):
        store.start_job(folder, body)
    with pytest.raises(BadRequest, match="exactly one"):
        store.start_job(folder, {**body, "dataItems": _sdk_payload(), "externalFiles": {}})

    store.start_job(folder, {**body, "dataItems": _sdk_payload()})
    store.start_job(folder, {**body, "externalFiles": {"images": [{"objectUrl": URL + "?f"}]}})
    store.settle(now=float("inf"))

    held = {i.urls: i for i in store.items[folder]}
    assert held[(URL,)].form == "dataItems"
    assert held[(URL,)].media_metadata == {
        "mimeType": "image/jpeg",
        "fileSize": 3,
        "height": 2,
        "width": 1,
    }
    assert held[(URL + "?f",)].form == "externalFiles"
    assert held[(URL + "?f",)].media_metadata is None
