"""The calls the helper makes to Encord through the `encord` SDK, retried and translated.

Everything else in the helper deals in plain records (`Integration`, `FolderRef`,
`JobOutcome`) and the helper's own exceptions. The SDK is imported inside functions (here,
in `connection` and in `failures`) so that commands that never reach Encord, and `--help`,
do not pay for it.

Folder creation and job start are not idempotent on Encord's side; `resolve_folder`
re-lists before creating again, and the job-start caller (the registrar) re-sends with
`skip_duplicate_urls` forced on whenever an earlier attempt's fate is unknown, then removes
any copy Encord made anyway (`list_items`, `child_urls`, `delete_items_once`; see
`registration.register.reconcile`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from registration.encord.failures import JobLost, classify, translate
from registration.encord.retry import RetryPolicy, Stopped, call_with_retry
from registration.errors import UsageError

if TYPE_CHECKING:
    from encord.orm.storage import DataUploadItems
    from encord.storage import StorageFolder
    from encord.user_client import EncordUserClient

log = logging.getLogger(__name__)
T = TypeVar("T")

# One SDK `get_result` call long-polls this long at most; the registrar loops on it so
# that Ctrl-C is noticed between calls.
POLL_SECONDS = 10
ITEM_PAGE_SIZE = 1000
"""Items per page when listing a folder (the SDK's maximum)."""
MULTI_FILE_ITEM_TYPES = frozenset({"imageGroup", "imageSequence", "dicomSeries", "group"})
"""Item types whose `url` is empty: their files' URLs are their child items' URLs."""


class JobStatus(StrEnum):
    """The state of a registration job, as Encord reports it."""

    PENDING = "PENDING"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"


TERMINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Integration:
    """A cloud integration the key can see."""

    id: str
    title: str


@dataclass
class FolderRef:
    """A resolved (or, in a dry run, to-be-created) folder."""

    path: str
    uuid: str | None
    created: list[str] = field(default_factory=list)
    would_create: list[str] = field(default_factory=list)
    handle: Any = None  # the SDK StorageFolder, when it exists


@dataclass(frozen=True)
class UnitError:
    """One failed unit: its URLs and Encord's error text."""

    urls: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class FolderItem:
    """An item of a folder, as listed: what duplicate detection needs."""

    uuid: str
    name: str
    item_type: str
    url: str | None
    created_at: str
    handle: Any = field(default=None, compare=False, repr=False)  # the SDK StorageItem

    @property
    def multi_file(self) -> bool:
        """True for image groups, sequences and DICOM series (URLs are on the child items)."""
        return self.item_type in MULTI_FILE_ITEM_TYPES


@dataclass(frozen=True)
class JobOutcome:
    """A registration job's state as last polled."""

    status: JobStatus
    items: tuple[tuple[str, str], ...]  # (item uuid, name)
    errors: tuple[str, ...]
    unit_errors: tuple[UnitError, ...]
    pending: int
    done: int
    failed: int
    cancelled: int

    @property
    def finished(self) -> bool:
        """True once Encord will not change this job any more."""
        return self.status in TERMINAL_STATUSES


class EncordSession:
    """Retrying, error-translating access to the calls the register command needs."""

    def __init__(
        self,
        client: EncordUserClient,
        *,
        policy: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        on_retry: Callable[[str, int, BaseException, float], None] | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.stop = stop or threading.Event()
        self._on_retry = on_retry
        self.domain = str(getattr(getattr(client, "_config", None), "domain", "") or "Encord")

    def call(self, action: str, fn: Callable[[int], T]) -> T:
        """Run `fn(attempt)` with retries; raise the helper's errors (or `Stopped`)."""

        def report(attempt: int, exc: BaseException, wait: float) -> None:
            log.info(
                "retrying %s after %s (attempt %d, %.2fs)",
                action,
                type(exc).__name__,
                attempt,
                wait,
            )
            if self._on_retry is not None:
                self._on_retry(action, attempt, exc, wait)

        try:
            return call_with_retry(
                fn, classify=classify, policy=self.policy, stop=self.stop, on_retry=report
            )
        except Stopped:
            raise
        except Exception as exc:
            raise translate(exc, action, self.domain) from None

    # integrations ------------------------------------------------------------------------
    def list_integrations(self) -> list[Integration]:
        """Every cloud integration the key can see."""
        found = self.call(
            "listing cloud integrations", lambda _: self.client.get_cloud_integrations()
        )
        return [Integration(str(i.id), str(i.title)) for i in found]

    def resolve_integration(self, value: str) -> Integration:
        """The one integration whose UUID or exact title is `value`."""
        visible = self.list_integrations()
        matches = [i for i in visible if value in (i.id, i.title)]
        if len(matches) == 1:
            return matches[0]
        listing = ", ".join(f"{i.title!r} ({i.id})" for i in visible) or "none"
        if not matches:
            raise UsageError(
                f"no cloud integration with title or UUID {value!r}; the key can see: {listing}",
                hint="create the integration in Encord (Integrations > New > AWS S3) with the role "
                "ARN and external ID from the stack outputs, or pass one of the above",
            )
        raise UsageError(
            f"{len(matches)} cloud integrations are titled {value!r}; pass the UUID instead. "
            f"The key can see: {listing}"
        )

    # folders -----------------------------------------------------------------------------
    def _children(self, parent: StorageFolder | None, name: str) -> list[StorageFolder]:
        def fetch(_: int) -> list[StorageFolder]:
            source = (
                self.client.list_storage_folders(search=name)
                if parent is None
                else parent.list_subfolders(search=name)
            )
            # `search` is fuzzy on the server: keep exact names only.
            return [f for f in source if f.name == name]

        return self.call(f"looking up folder {name!r}", fetch)

    def resolve_folder(
        self,
        path: str,
        *,
        description: str | None = None,
        create: bool = True,
        dry_run: bool = False,
    ) -> FolderRef:
        """Find the folder at `parent/child` by exact names, creating what is missing.

        A folder UUID is accepted too. With `create=False` a missing folder is a usage
        error; with `dry_run` nothing is created and `would_create` lists what would be.
        """
        if is_uuid(path):
            folder = self.call(
                f"reading folder {path}", lambda _: self.client.get_storage_folder(path)
            )
            return FolderRef(path=folder.name, uuid=str(folder.uuid), handle=folder)
        names = [part for part in path.strip("/").split("/")]
        if not all(names):
            raise UsageError(f"--folder {path!r} has an empty path element")
        ref = FolderRef(path="/".join(names), uuid=None)
        parent: StorageFolder | None = None
        for depth, name in enumerate(names):
            so_far = "/".join(names[: depth + 1])
            matches = self._children(parent, name)
            if len(matches) > 1:
                ids = ", ".join(str(f.uuid) for f in matches)
                raise UsageError(
                    f"{len(matches)} folders are named {so_far!r} ({ids}); pass --folder UUID"
                )
            if matches:
                parent = matches[0]
                continue
            if not create:
                raise UsageError(
                    f"folder {so_far!r} does not exist in Encord",
                    hint="create it in Encord (Files > New folder), fix --folder, "
                    "or drop --no-create-folder to let the helper create it",
                )
            if dry_run:
                ref.would_create = ["/".join(names[: i + 1]) for i in range(depth, len(names))]
                return ref
            parent = self._create_folder(
                parent, name, description if depth == len(names) - 1 else None
            )
            ref.created.append(so_far)
        assert parent is not None
        ref.uuid = str(parent.uuid)
        ref.handle = parent
        return ref

    def _create_folder(
        self, parent: StorageFolder | None, name: str, description: str | None
    ) -> StorageFolder:
        def attempt(number: int) -> StorageFolder:
            if number > 1:
                # An earlier attempt may have created it before failing: never create twice.
                existing = self._children(parent, name)
                if existing:
                    return existing[0]
            if parent is None:
                return self.client.create_storage_folder(name, description=description)
            return parent.create_subfolder(name, description=description)

        return self.call(f"creating folder {name!r}", attempt)

    # jobs --------------------------------------------------------------------------------
    def start_job_once(
        self,
        folder: StorageFolder,
        integration_id: str,
        document: dict[str, Any] | DataUploadItems,
        ignore_errors: bool,
    ) -> str:
        """One `add_private_data_to_folder_start` call, no retry (the caller records each try).

        `document` is a file-form document (sent as `externalFiles`) or the SDK's typed
        `DataUploadItems` (sent as `dataItems`; see `upload_items`).
        """
        job = folder.add_private_data_to_folder_start(
            integration_id, document, ignore_errors=ignore_errors
        )
        return str(job)

    def poll_job(
        self, folder: StorageFolder, job_uuid: str, timeout_seconds: int = POLL_SECONDS
    ) -> JobOutcome:
        """Long-poll a job once (with retries on transient failures)."""

        def fetch(_: int) -> Any:
            return folder.add_private_data_to_folder_get_result(
                uuid.UUID(job_uuid), timeout_seconds=timeout_seconds
            )

        return outcome_from_state(self.poll_call(fetch, job_uuid))

    def poll_call(self, fetch: Callable[[int], Any], job_uuid: str) -> Any:
        """One poll of a job (`fetch`, retried on transient failures): `JobLost` when Encord
        no longer knows the job, other failures translated."""
        from encord import exceptions as ex

        try:
            return call_with_retry(fetch, classify=classify, policy=self.policy, stop=self.stop)
        except ex.ResourceNotFoundError:
            raise JobLost(f"Encord does not know job {job_uuid} any more") from None
        except Stopped:
            raise
        except Exception as exc:
            raise translate(exc, f"polling job {job_uuid}", self.domain) from None

    # items -------------------------------------------------------------------------------
    def list_items(self, folder: StorageFolder, search: str | None) -> list[FolderItem]:
        """The folder's items whose names contain `search` (every item when None).

        Encord's `search` filters by name on the server (how loosely is not documented): callers
        compare exact URLs themselves.
        """

        def fetch(_: int) -> list[FolderItem]:
            found = folder.list_items(
                search=search or None, page_size=ITEM_PAGE_SIZE, include_client_metadata=False
            )
            return [_folder_item(item) for item in found]

        return self.call(f"listing the items of folder {folder.name!r}", fetch)

    def child_urls(self, item: FolderItem) -> tuple[str, ...]:
        """The URLs of a multi-file item's files, in order (its child items)."""
        return self.call(
            f"reading the files of item {item.uuid}",
            lambda _: tuple(str(c.url) for c in item.handle.get_child_items()),
        )

    def delete_items_once(self, folder: StorageFolder, item_uuids: list[str]) -> None:
        """One `delete_storage_items` call, no retry (the caller re-checks before trying again)."""
        folder.delete_storage_items([uuid.UUID(u) for u in item_uuids])


def _folder_item(item: Any) -> FolderItem:
    item_type = getattr(item.item_type, "value", item.item_type)
    created = item.created_at
    if isinstance(created, datetime):  # one spelling, so that the strings sort by time
        stamp = created.astimezone(UTC).isoformat(timespec="microseconds")
    else:
        stamp = str(created)
    return FolderItem(
        uuid=str(item.uuid),
        name=str(item.name),
        item_type=str(item_type),
        url=str(item.url) if item.url else None,
        created_at=stamp,
        handle=item,
    )


def outcome_from_state(state: Any) -> JobOutcome:
    """Plain record of the SDK's `UploadLongPollingState`."""
    status = getattr(state.status, "value", state.status)
    return JobOutcome(
        status=JobStatus(str(status)),
        items=tuple((str(i.item_uuid), str(i.name)) for i in state.items_with_names),
        errors=tuple(str(e) for e in state.errors),
        unit_errors=tuple(
            UnitError(tuple(str(u) for u in e.object_urls), str(e.error)) for e in state.unit_errors
        ),
        pending=int(state.units_pending_count),
        done=int(state.units_done_count),
        failed=int(state.units_error_count),
        cancelled=int(state.units_cancelled_count),
    )


def is_uuid(value: str) -> bool:
    """Whether a folder argument is a UUID (36 characters Python's `uuid` accepts), not a path."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
