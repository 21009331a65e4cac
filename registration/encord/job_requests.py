"""Job starts serialised ahead of time, and polled answers parsed after the fact.

Registering a 10,000-item file costs the client CPU twice: building and serialising the
start request (the SDK's `PostUploadJobParams`, its `to_dict`, then JSON), and parsing the
final poll's answer (the SDK's `UploadLongPollingState`, thousands of items). Neither has to
happen while a job slot waits: `prepare_job` builds the request body exactly as the SDK's
`add_private_data_to_folder_start` would, so it can run while other jobs are in flight, and
`start_prepared_job_once` only sends the bytes; `poll_job_state` reads a poll's status at once
and leaves the rest to `JobState.outcome`, parsed by the same SDK model once the slot is free.

Both send through the SDK's own API client (its signing, error translation, and no retry on
a start), which the pinned SDK version exposes as `folder._api_client`. Without it they fall
back to the public calls (`start_job_once`, `poll_job`), so nothing but speed depends on it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from registration.encord.client import (
    POLL_SECONDS,
    TERMINAL_STATUSES,
    EncordSession,
    JobOutcome,
    JobStatus,
    outcome_from_state,
)
from registration.encord.failures import translate

if TYPE_CHECKING:
    from encord.orm.storage import DataUploadItems
    from encord.storage import StorageFolder

UPLOAD_JOBS_PATH = "storage/folders/{folder}/data-upload-jobs"
"""Where the SDK starts and polls registration jobs (under its v2 API root)."""


@dataclass(frozen=True)
class JobRequest:
    """A job start's request body, serialised ahead of the call (`prepare_job`)."""

    body: bytes

    def arguments(self) -> tuple[str, dict[str, Any] | DataUploadItems, bool]:
        """`EncordSession.start_job_once`'s arguments for this request (the public way)."""
        from encord.orm.storage import PostUploadJobParams

        params = PostUploadJobParams.model_validate_json(self.body)
        document = params.data_items if params.data_items is not None else params.external_files
        assert document is not None and params.integration_hash is not None
        return str(params.integration_hash), document, params.ignore_errors


def prepare_job(
    integration_id: str, document: dict[str, Any] | DataUploadItems, ignore_errors: bool
) -> JobRequest:
    """The request `start_job_once` would send for `document` (file form or typed), serialised.

    Built as the SDK builds it (`PostUploadJobParams`, then its `to_dict`), so the JSON is the
    one the SDK would have sent. It is encoded by orjson, not by the `json.dumps` that
    `requests` would use: the same JSON value at a tenth of the CPU (non-ASCII characters go
    as UTF-8 rather than escaped; NaN, which `requests` refuses, never occurs, as registration
    files are read with orjson, which refuses it too).
    """
    from encord.orm.storage import DataUploadItems, PostUploadJobParams

    typed = document if isinstance(document, DataUploadItems) else None
    params = PostUploadJobParams(
        data_items=typed,
        external_files=document if isinstance(document, dict) else None,
        integration_hash=uuid.UUID(integration_id),
        ignore_errors=ignore_errors,
        file_name=None,
    )
    return JobRequest(orjson.dumps(params.to_dict()))


def start_prepared_job_once(
    session: EncordSession, folder: StorageFolder, request: JobRequest
) -> str:
    """`session.start_job_once` for a request serialised ahead: one call, no retry."""
    import requests

    api = getattr(folder, "_api_client", None)
    if api is None or not hasattr(api, "_request") or not hasattr(api, "_build_url"):
        return session.start_job_once(folder, *request.arguments())
    prepared = requests.Request(
        "POST",
        api._build_url(UPLOAD_JOBS_PATH.format(folder=folder.uuid)),
        data=request.body,
        headers={"Content-Type": "application/json"},
    ).prepare()
    return str(api._request(prepared, result_type=uuid.UUID, allow_retries=False))


@dataclass(frozen=True)
class JobState:
    """A job's state as last polled; `outcome()` parses the answer with the SDK's models."""

    status: JobStatus
    body: Any = None
    parsed: JobOutcome | None = None
    job_uuid: str = ""
    domain: str = "Encord"

    @property
    def finished(self) -> bool:
        """True once Encord will not change this job any more."""
        return self.status in TERMINAL_STATUSES

    def outcome(self) -> JobOutcome:
        """The answer as the SDK's `UploadLongPollingState` reads it, as a plain record."""
        if self.parsed is not None:
            return self.parsed
        return parse_job_state(self.body, self.job_uuid, self.domain)


def poll_job_state(
    session: EncordSession,
    folder: StorageFolder,
    job_uuid: str,
    timeout_seconds: int = POLL_SECONDS,
) -> JobState:
    """Long-poll a job once (retrying transient failures), the answer's status read at once.

    One GET, as each turn of the SDK's own polling loop makes; `JobLost` when Encord no
    longer knows the job. The rest of the answer is parsed by `JobState.outcome`.
    """
    from encord.orm.storage import GetUploadJobParams

    api = getattr(folder, "_api_client", None)
    if api is None or not hasattr(api, "get"):
        outcome = session.poll_job(folder, job_uuid, timeout_seconds)
        return JobState(outcome.status, parsed=outcome)
    path = f"{UPLOAD_JOBS_PATH.format(folder=folder.uuid)}/{uuid.UUID(job_uuid)}"

    def fetch(_: int) -> Any:
        return api.get(
            path,
            params=GetUploadJobParams(timeout_seconds=timeout_seconds),
            result_type=_raw_answer_type(),
        )

    body = session.poll_call(fetch, job_uuid).body
    try:
        status = JobStatus(str(body.get("status"))) if isinstance(body, dict) else None
    except ValueError:
        status = None
    if status is None:  # not a state this helper knows: let the SDK's model say what is wrong
        outcome = parse_job_state(body, job_uuid, session.domain)
        return JobState(outcome.status, parsed=outcome)
    return JobState(status, body, None, job_uuid, session.domain)


def parse_job_state(body: Any, job_uuid: str, domain: str) -> JobOutcome:
    """A polled answer read by the SDK's `UploadLongPollingState`, as `poll_job` reads it.

    The items (one per registered unit, 10,000 in a full file) are the costly part for the
    SDK's model (about 70 ms here, on the one interpreter lock the next files' preparation
    needs). When every item is in the plain form Encord sends (`_plain_items`), the model
    reads the answer without them and the items are taken as they are: the same strings the
    model would give. Any other form goes through the model whole.
    """
    from encord.orm.storage import UploadLongPollingState

    items = _plain_items(body)
    try:
        if items is None:
            return outcome_from_state(UploadLongPollingState.from_dict(body))
        state = UploadLongPollingState.from_dict({**body, ITEMS_FIELD: []})
    except Exception as exc:
        raise translate(exc, f"polling job {job_uuid}", domain) from None
    return dataclasses.replace(outcome_from_state(state), items=items)


ITEMS_FIELD = "itemsWithNames"
"""The answer's list of registered items (`UploadLongPollingState.items_with_names`)."""

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A UUID as `str(UUID(...))` writes it, so the string is what the model's UUID gives back."""


def _plain_items(body: Any) -> tuple[tuple[str, str], ...] | None:
    """The answer's items as (UUID, name), when each is exactly `{"itemUuid", "name"}` with a
    canonical UUID string and a string name, the model's reading of them; else None."""
    if not isinstance(body, dict) or "items_with_names" in body:
        return None
    entries = body.get(ITEMS_FIELD)
    if not isinstance(entries, list):
        return None
    items: list[tuple[str, str]] = []
    match = _CANONICAL_UUID.fullmatch
    for entry in entries:
        if type(entry) is not dict or len(entry) != 2:
            return None
        uid, name = entry.get("itemUuid"), entry.get("name")
        if type(uid) is not str or type(name) is not str or match(uid) is None:
            return None
        items.append((uid, name))
    return tuple(items)


@functools.cache
def _raw_answer_type() -> type[Any]:
    """A result type for the SDK's API client that keeps the answer's JSON as it came."""
    from encord.orm.base_dto.base_dto_interface import BaseDTOInterface

    class RawAnswer(BaseDTOInterface):
        def __init__(self, body: Any) -> None:
            self.body = body

        @classmethod
        def from_dict(cls, d: Any) -> RawAnswer:
            return cls(d)

        def to_dict(self, by_alias: bool = True, exclude_none: bool = True) -> Any:
            return self.body

    return RawAnswer
