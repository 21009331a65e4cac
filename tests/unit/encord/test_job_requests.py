"""Start requests serialised ahead say exactly what the SDK's own call would send."""

from __future__ import annotations

import uuid

import orjson
import pytest

from registration.encord.client import JobStatus
from registration.encord.job_requests import JobState, parse_job_state, prepare_job
from registration.encord.upload_items import upload_items

INTEGRATION = str(uuid.UUID(int=7))
DOCUMENT = {
    "images": [
        {
            "objectUrl": "https://b.s3.eu-west-1.amazonaws.com/caméra/1.jpg",
            "title": "caméra 1",
            "clientMetadata": {"lieu": "Zürich", "n": 1.5, "tags": ["a"]},
        }
    ],
    "videos": [{"objectUrl": "https://b.s3.eu-west-1.amazonaws.com/v.mp4"}],
    "skip_duplicate_urls": True,
}


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "file-form"])
def test_the_prepared_body_is_the_sdks_payload(typed):
    from encord.orm.storage import PostUploadJobParams

    document = upload_items(DOCUMENT, "m.json") if typed else DOCUMENT
    request = prepare_job(INTEGRATION, document, ignore_errors=True)

    sdk = PostUploadJobParams(
        data_items=document if typed else None,
        external_files=None if typed else document,
        integration_hash=uuid.UUID(INTEGRATION),
        ignore_errors=True,
    ).to_dict()
    assert orjson.loads(request.body) == sdk
    integration, sent, ignore = request.arguments()
    assert (integration, ignore) == (INTEGRATION, True)
    assert (sent.to_dict() if typed else sent) == (document.to_dict() if typed else document)


def test_a_polled_answer_is_parsed_by_the_sdks_model_when_asked():
    body = {
        "status": "DONE",
        "itemsWithNames": [{"itemUuid": str(uuid.UUID(int=1)), "name": "a"}],
        "errors": [],
        "unitsPendingCount": 0,
        "unitsDoneCount": 1,
        "unitsErrorCount": 0,
        "unitsCancelledCount": 0,
        "unitErrors": [],
    }
    state = JobState(JobStatus.DONE, body, None, "job", "d")
    assert state.finished
    outcome = state.outcome()
    assert outcome.items == ((str(uuid.UUID(int=1)), "a"),)
    assert (outcome.done, outcome.failed) == (1, 0)
    with pytest.raises(Exception, match="polling job job"):
        parse_job_state({"status": "DONE", "itemsWithNames": "nope"}, "job", "d")
