"""Start requests serialised ahead say exactly what the SDK's own call would send."""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _answer(items: object, **fields: object) -> dict[str, object]:
    return {
        "status": "DONE",
        "itemsWithNames": items,
        "errors": [],
        "unitsPendingCount": 0,
        "unitsDoneCount": 2,
        "unitsErrorCount": 0,
        "unitsCancelledCount": 0,
        "unitErrors": [],
        **fields,
    }


def _by_the_sdk(body: object) -> object:
    """What the SDK's model alone makes of an answer: the outcome, or the error's type."""
    from encord.orm.storage import UploadLongPollingState

    from registration.encord.client import outcome_from_state

    try:
        return outcome_from_state(UploadLongPollingState.from_dict(body))
    except Exception as exc:
        return type(exc)


def _by_the_helper(body: object) -> object:
    from encord.exceptions import EncordException

    try:
        return parse_job_state(body, "job", "d")
    except Exception as exc:  # translated: the SDK's EncordException becomes ours
        assert "polling job job" in str(exc)
        return EncordException


UID = "0b9c3a4e-7f7e-4c1a-9d7e-2f9a1b2c3d4e"
ODD_ITEMS = [
    [{"itemUuid": UID, "name": "a.jpg"}, {"itemUuid": str(uuid.UUID(int=2)), "name": "b/ü.jpg"}],
    [{"itemUuid": UID.upper(), "name": "a"}],  # the model gives the lowercase form
    [{"itemUuid": "{" + UID + "}", "name": "a"}],
    [{"itemUuid": "urn:uuid:" + UID, "name": "a"}],
    [{"itemUuid": UID.replace("-", ""), "name": "a"}],
    [{"itemUuid": UID, "name": 7}],  # refused by the model
    [{"itemUuid": UID}],
    [{"itemUuid": "not-a-uuid", "name": "a"}],
    [{"itemUuid": UID, "name": "a", "extra": 1}],  # ignored by the model
    [{"item_uuid": UID, "name": "a"}],  # the field's own name: accepted by the model
    [{"item_uuid": str(uuid.UUID(int=3)), "itemUuid": UID, "name": "a"}],
    ["nope"],
    [],
    "nope",
    None,
]


@pytest.mark.parametrize("items", ODD_ITEMS, ids=range(len(ODD_ITEMS)))
def test_the_answer_is_read_as_the_sdks_model_reads_it(items):
    body = _answer(items)
    assert _by_the_helper(body) == _by_the_sdk(body)


def test_the_rest_of_the_answer_is_still_read_by_the_sdks_model():
    items = [{"itemUuid": UID, "name": "a"}]
    failed = _answer(
        items,
        status="ERROR",
        errors=["boom"],
        unitErrors=[
            {
                "objectUrls": ["https://b/x.jpg"],
                "error": "unreadable",
                "subtaskUuid": UID,
                "actionDescription": "Registering image",
            }
        ],
        unitsErrorCount=1,
    )
    outcome = _by_the_helper(failed)
    assert outcome == _by_the_sdk(failed)
    assert outcome.items == ((UID, "a"),) and outcome.failed == 1
    assert outcome.unit_errors[0].urls == ("https://b/x.jpg",)
    for broken in (_answer(items, status="LOST"), _answer(items, unitsDoneCount="many")):
        assert _by_the_helper(broken) == _by_the_sdk(broken)
    snake = {k: v for k, v in _answer(items).items() if k != "itemsWithNames"}
    snake["items_with_names"] = [{"itemUuid": UID.upper(), "name": "a"}]
    assert _by_the_helper(snake) == _by_the_sdk(snake)
    assert _by_the_helper(snake).items == ((UID, "a"),)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "itemUuid": st.one_of(
                    st.uuids().map(str),
                    st.uuids().map(lambda u: str(u).upper()),
                    st.uuids().map(lambda u: u.hex),
                    st.text(max_size=40),
                ),
                "name": st.one_of(st.text(), st.integers()),
            },
            optional={"extra": st.integers()},
        ),
        max_size=6,
    )
)
@settings(max_examples=150, deadline=None)
def test_any_items_are_read_as_the_sdks_model_reads_them(items):
    body = _answer(items)
    assert _by_the_helper(body) == _by_the_sdk(body)
