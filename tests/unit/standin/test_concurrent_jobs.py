"""The stand-in's concurrent mode and the item calls the duplicate clean-up uses, via the SDK."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from encord.exceptions import ResourceNotFoundError

from registration.encord.connection import connect
from tests.standin.testing import encord_env, image_urls

URLS = image_urls("cam", 2)
DOC = {"images": [{"objectUrl": u, "title": u.rsplit("/", 1)[1]} for u in URLS]}


def _two_overlapping_jobs(tmp_path: Path, concurrent: bool) -> tuple[list[dict], object]:
    with encord_env(tmp_path, job_latency=0.3, concurrent_jobs=concurrent) as env:
        client = connect(ssh_key_file=env.key_file, domain=env.standin.domain, environ={})
        folder = client.get_storage_folder(uuid.UUID(env.standin.create_folder("f")))
        skipping = {**DOC, "skip_duplicate_urls": True}
        first = folder.add_private_data_to_folder_start(env.integration_id, skipping)
        second = folder.add_private_data_to_folder_start(env.integration_id, skipping)
        for job in (first, second):
            assert folder.add_private_data_to_folder_get_result(job).status.value == "DONE"
        items = list(folder.list_items(search="img-0000"))
        return [{"uuid": str(i.uuid), "url": i.url, "name": i.name} for i in items], folder


@pytest.mark.parametrize(("concurrent", "copies"), [(False, 1), (True, 2)])
def test_overlapping_jobs_both_check_before_either_inserts(tmp_path, concurrent, copies):
    items, _ = _two_overlapping_jobs(tmp_path, concurrent)
    assert sorted(i["url"] for i in items) == sorted(URLS * copies)


def test_list_items_searches_names_and_delete_storage_items_removes(tmp_path):
    with encord_env(tmp_path, concurrent_jobs=True) as env:
        client = connect(ssh_key_file=env.key_file, domain=env.standin.domain, environ={})
        folder = client.get_storage_folder(uuid.UUID(env.standin.create_folder("f")))
        doc = {
            **DOC,
            "image_groups": [{"title": "grp", "objectUrl_0": URLS[0], "objectUrl_1": URLS[1]}],
        }
        job = folder.add_private_data_to_folder_start(env.integration_id, doc)
        folder.add_private_data_to_folder_get_result(job)
        assert {i.name for i in folder.list_items(search="IMG-00001")} == {"img-00001.jpg"}
        (group,) = folder.list_items(search="grp")
        assert group.url is None
        assert [c.url for c in group.get_child_items()] == URLS
        images = [i.uuid for i in folder.list_items(search="img")]
        folder.delete_storage_items(images)
        left = env.standin.items_in_folder(str(folder.uuid))
        assert [i["title"] for i in left] == ["grp"]
        with pytest.raises(ResourceNotFoundError):
            folder.delete_storage_items(images)  # already gone: refused, nothing done
