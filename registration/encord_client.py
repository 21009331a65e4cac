"""The one module that talks to the `encord` SDK.

Everything else in the helper deals in plain records (`Integration`, `FolderRef`,
`JobOutcome`) and the helper's own exceptions. The SDK is imported inside functions so
that commands that never reach Encord (and `--help`) do not pay for it.

Retry policy: the SDK's own HTTP retries are switched off (`RequestsSettings` below) so
that one policy, `registration.retry`, governs every call, with jitter and a bound.
Folder creation and job start are not idempotent on Encord's side; `ensure_folder`
re-lists before creating again, and the job-start caller (the registrar) re-sends with
`skip_duplicate_urls` forced on whenever an earlier attempt's fate is unknown.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from registration.errors import AuthError, RegisterError, RemoteError, UsageError
from registration.retry import RetriesExhausted, RetryPolicy, Stopped, Verdict, call_with_retry

if TYPE_CHECKING:
    from encord.storage import StorageFolder
    from encord.user_client import EncordUserClient

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_DOMAIN = "https://api.encord.com"
US_DOMAIN = "https://api.us.encord.com"
ENV_DOMAIN = "ENCORD_DOMAIN"
ENV_KEY_FILE = "ENCORD_SSH_KEY_FILE"
ENV_KEY = "ENCORD_SSH_KEY"
CONNECT_TIMEOUT_SECONDS = 15
# One SDK `get_result` call long-polls this long at most; the registrar loops on it so
# that Ctrl-C is noticed between calls.
POLL_SECONDS = 10
# Encord may take a while to accept a large registration file; a timeout is treated as a
# lost answer (the file is re-sent with duplicates skipped), so keep it generous (SDK default).
READ_TIMEOUT_SECONDS = 180
TERMINAL_STATUSES = frozenset({"DONE", "ERROR", "CANCELLED"})

AUTH_HINT = (
    "check the key (--ssh-key-file, ENCORD_SSH_KEY_FILE or ENCORD_SSH_KEY) is the private half of "
    "a public key added in Encord (Settings > Public keys), and that --encord-domain matches your "
    f"tenant ({DEFAULT_DOMAIN}, or {US_DOMAIN} for the US)"
)


class RequestRejected(RegisterError):
    """Encord refused a request as invalid (400/413): retrying the same request cannot help."""

    exit_status = UsageError.exit_status


class JobLost(RegisterError):
    """Encord no longer knows a job we recorded; the file must be sent again."""


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
class JobOutcome:
    """A registration job's state as last polled."""

    status: str
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


# -- credentials and connection ---------------------------------------------------------
def resolve_domain(value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API domain: the flag, else ENCORD_DOMAIN, else Encord's default."""
    env = os.environ if environ is None else environ
    domain = (value or env.get(ENV_DOMAIN) or DEFAULT_DOMAIN).rstrip("/")
    if not domain.startswith(("https://", "http://")):
        raise UsageError(
            f"--encord-domain must be a URL such as {DEFAULT_DOMAIN}, got {domain!r}",
        )
    return domain


def load_key_text(ssh_key_file: Path | None, environ: Mapping[str, str] | None = None) -> str:
    """The private key text: the flag, else ENCORD_SSH_KEY_FILE, else ENCORD_SSH_KEY."""
    env = os.environ if environ is None else environ
    path = ssh_key_file or (Path(env[ENV_KEY_FILE]) if env.get(ENV_KEY_FILE) else None)
    if path is not None:
        try:
            return path.expanduser().read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(
                f"cannot read the Encord SSH key file {path}: {exc.__class__.__name__}",
                hint="pass --ssh-key-file or set ENCORD_SSH_KEY_FILE to a readable key file",
            ) from None
    text = env.get(ENV_KEY)
    if text:
        return text
    raise AuthError(
        "no Encord key: pass --ssh-key-file, or set ENCORD_SSH_KEY_FILE or ENCORD_SSH_KEY",
        hint=AUTH_HINT,
    )


def connect(
    *,
    ssh_key_file: Path | None = None,
    domain: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> EncordUserClient:
    """An `EncordUserClient` for the key and domain (no network call happens here)."""
    from encord.http.constants import RequestsSettings
    from encord.user_client import EncordUserClient

    key_text = load_key_text(ssh_key_file, environ)
    settings = RequestsSettings(
        max_retries=0,
        connection_retries=0,
        backoff_factor=0.0,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        write_timeout=READ_TIMEOUT_SECONDS,
    )
    try:
        return EncordUserClient.create_with_ssh_private_key(
            ssh_private_key=key_text,
            domain=resolve_domain(domain, environ),
            requests_settings=settings,
        )
    except (ValueError, TypeError) as exc:
        # The SDK's messages about a bad key never quote it, but stay generic anyway.
        raise AuthError(
            f"the Encord key is not a usable OpenSSH Ed25519 private key ({type(exc).__name__})",
            hint=AUTH_HINT,
        ) from None


# -- classification -----------------------------------------------------------------------
def classify(exc: BaseException) -> Verdict:
    """Transient (rate limits, 5xx, timeouts, dropped connections) or not."""
    import requests
    from encord import exceptions as ex

    if isinstance(exc, ex.RateLimitExceededError):
        return Verdict(True, float(exc.retry_after) if exc.retry_after else None)
    transient = (
        ex.RequestException,
        ex.UnknownException,
        ex.GenericServerError,
        ex.TimeOutError,
        requests.exceptions.RequestException,
        ConnectionError,
        TimeoutError,
    )
    return Verdict(isinstance(exc, transient))


def translate(exc: BaseException, action: str, domain: str) -> RegisterError:
    """The helper's own error for an SDK failure while doing `action`."""
    from encord import exceptions as ex

    if isinstance(exc, RegisterError):
        return exc
    if isinstance(exc, RetriesExhausted):
        return RemoteError(
            f"Encord at {domain} kept failing while {action} "
            f"({exc.attempts} attempts; last error: {_message(exc.last)})",
            hint="check the network and --encord-domain; re-run the same command to resume",
        )
    if isinstance(exc, ex.AuthenticationError):
        return AuthError(f"Encord rejected the key while {action}", hint=AUTH_HINT)
    if isinstance(exc, ex.AuthorisationError):
        return AuthError(
            f"the key is not allowed to do this while {action}: {_message(exc)}",
            hint="ask an Encord admin for access to the folder and the integration",
        )
    if isinstance(exc, ex.ResourceNotFoundError):
        return UsageError(f"not found while {action}: {_message(exc)}")
    if isinstance(exc, ex.InvalidArgumentsError | ex.PayloadTooLargeError):
        return RequestRejected(f"Encord rejected the request while {action}: {_message(exc)}")
    if isinstance(exc, ex.EncordException):
        return RemoteError(f"Encord error while {action}: {_message(exc)}")
    return RemoteError(f"unexpected failure while {action}: {type(exc).__name__}: {exc}")


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc).strip()


# -- the session ------------------------------------------------------------------------
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
        if _is_uuid(path):
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
        document: dict[str, Any],
        ignore_errors: bool,
    ) -> str:
        """One `add_private_data_to_folder_start` call, no retry (the caller records each try)."""
        job = folder.add_private_data_to_folder_start(
            integration_id, document, ignore_errors=ignore_errors
        )
        return str(job)

    def poll_job(
        self, folder: StorageFolder, job_uuid: str, timeout_seconds: int = POLL_SECONDS
    ) -> JobOutcome:
        """Long-poll a job once (with retries on transient failures)."""
        from encord import exceptions as ex

        def fetch(_: int) -> Any:
            return folder.add_private_data_to_folder_get_result(
                uuid.UUID(job_uuid), timeout_seconds=timeout_seconds
            )

        try:
            state = call_with_retry(fetch, classify=classify, policy=self.policy, stop=self.stop)
        except ex.ResourceNotFoundError:
            raise JobLost(f"Encord does not know job {job_uuid} any more") from None
        except Stopped:
            raise
        except Exception as exc:
            raise translate(exc, f"polling job {job_uuid}", self.domain) from None
        return outcome_from_state(state)


def outcome_from_state(state: Any) -> JobOutcome:
    """Plain record of the SDK's `UploadLongPollingState`."""
    status = getattr(state.status, "value", state.status)
    return JobOutcome(
        status=str(status),
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


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
