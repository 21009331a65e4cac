"""Encord's own cloud-synced folders: which bucket prefix one may sync, and creating it.

A cloud-synced folder mirrors one bucket prefix (`CloudSyncedFolderParams.remote_url`); Encord
lists it on a schedule, so the role needs ``s3:ListBucket`` there: the access stack grants it
only with ``allowListing`` (`AccessStackOutputs.allow_listing`). `sync_target` decides, from
the stack outputs alone, which ``s3://bucket/prefix/`` is asked for and refuses a bucket or
prefix the stack does not let Encord list. `create_cloud_synced_folder` then creates the folder
through the SDK (`create_storage_folder(..., cloud_synced_folder_params=...)`) and switches on
sidecar metadata (`StorageFolder.enable_metadata_ingestion(SidecarMatcherSuffix(suffix))`).

Idempotent: a folder already at the path that is cloud-synced to the same URL through the same
integration is reported, not created again; a plain folder, or one synced elsewhere, is refused.
Folder creation is not idempotent on Encord's side, so a retried creation lists the parent first
(as `EncordSession` does for plain folders).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from registration.encord.client import (
    EncordSession,
    FolderRef,
    Integration,
    is_uuid,  # one rule for folder UUIDs
)
from registration.errors import UsageError, troubleshooting
from registration.stack_outputs import AccessStackOutputs, BucketOutput

if TYPE_CHECKING:
    from encord.storage import StorageFolder

DEFAULT_METADATA_SUFFIX: Final = ".metadata.json"
"""Encord's own default sidecar suffix (`SidecarMatcherSuffix.suffix`), and ours (`sidecars`)."""
MAX_METADATA_SUFFIX_CHARS: Final = 128
"""`SidecarMatcherSuffix.suffix` takes 1 to 128 characters."""
MAX_FILES_PER_SYNCED_FOLDER: Final = 10_000_000
"""Encord's documented limit of files in one cloud-synced folder (the docs repeat it)."""
S3_SCHEME: Final = "s3://"
FIX_LISTING: Final = (
    'set "allowListing": true in the encord object of cdk.json and redeploy the access stack '
    "(`npx cdk deploy --outputs-file cdk-outputs.json`): Encord lists a cloud-synced folder's "
    "prefix with s3:ListBucket"
)


@dataclass(frozen=True)
class SyncTarget:
    """The bucket prefix a cloud-synced folder mirrors."""

    bucket: str
    prefix: str
    """``""`` for the whole bucket; otherwise ends with ``/``."""

    @property
    def remote_url(self) -> str:
        """What Encord is given: ``s3://bucket/prefix`` (S3's form in the SDK's docs)."""
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"


@dataclass
class SyncedFolder:
    """What `create_cloud_synced_folder` found or did."""

    path: str
    uuid: str
    remote_url: str
    integration: Integration
    metadata_suffix: str
    created: bool
    """True when this run created the folder (False: it was there already, synced the same)."""
    metadata_before: str | None
    """The sidecar suffix the folder had before this run (None: metadata ingestion was off)."""
    parents_created: list[str] = field(default_factory=list)

    @property
    def metadata_changed(self) -> bool:
        """True when this run switched metadata ingestion on, or changed its suffix."""
        return self.metadata_before != self.metadata_suffix

    def to_json(self) -> dict[str, Any]:
        """The outcome as a JSON object (for `--json`)."""
        return {
            "folder": self.path,
            "folderUuid": self.uuid,
            "remoteUrl": self.remote_url,
            "integration": {"uuid": self.integration.id, "title": self.integration.title},
            "metadataSuffix": self.metadata_suffix,
            "created": self.created,
            "metadataChanged": self.metadata_changed,
            "metadataSuffixBefore": self.metadata_before,
            "parentsCreated": self.parents_created,
        }


# --- which prefix (pure: the stack outputs only) ----------------------------------------------


def normalise_prefix(prefix: str) -> str:
    """A folder prefix: no leading ``/``, a trailing ``/`` unless it is the whole bucket."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _bucket(outputs: AccessStackOutputs, bucket: str | None) -> BucketOutput:
    names = [b.name for b in outputs.buckets]
    if bucket is None:
        if len(outputs.buckets) == 1:
            return outputs.buckets[0]
        raise UsageError(
            f"the stack {outputs.stack_name!r} has {len(names)} buckets ({', '.join(names)}); "
            "name one with --bucket"
        )
    found = outputs.bucket(bucket)
    if found is None:
        raise UsageError(
            f"bucket {bucket!r} is not a bucket of the stack {outputs.stack_name!r} "
            f"({', '.join(names) or 'none'}): Encord's role may not read it",
            hint="add it to the buckets of the encord object in cdk.json and redeploy, "
            "or pass one of the stack's buckets",
        )
    return found


def sync_target(
    outputs: AccessStackOutputs, *, bucket: str | None = None, prefix: str | None = None
) -> SyncTarget:
    """The prefix to sync: `bucket` (default: the stack's only bucket) and `prefix` (default:
    the bucket's only granted prefix), refused unless the stack lets Encord list it."""
    if not outputs.allow_listing:
        said = "false" if outputs.allow_listing is False else "not set (an older stack)"
        raise UsageError(
            f"the stack {outputs.stack_name!r} does not let Encord list its buckets "
            f"(allowListing is {said}); a cloud-synced folder needs it",
            hint=f"{FIX_LISTING}; {troubleshooting('cloud-synced-folders')}",
        )
    granted = _bucket(outputs, bucket)
    granted_prefixes = tuple(normalise_prefix(p) for p in granted.prefixes) or ("",)
    shown = ", ".join(p or "(the whole bucket)" for p in granted_prefixes)
    if prefix is None:
        if len(granted_prefixes) != 1:
            raise UsageError(
                f"the stack grants {len(granted_prefixes)} prefixes of s3://{granted.name} "
                f"({shown}); a cloud-synced folder mirrors one: pass --prefix (run the command "
                "once per prefix, each with its own --folder)"
            )
        return SyncTarget(granted.name, granted_prefixes[0])
    wanted = normalise_prefix(prefix)
    if not any(wanted.startswith(p) for p in granted_prefixes):
        raise UsageError(
            f"--prefix {wanted!r} is outside what the stack lets Encord read and list in "
            f"s3://{granted.name} ({shown})",
            hint="add the prefix to this bucket's prefixes in cdk.json and redeploy, or pass a "
            f"prefix under one of them; {troubleshooting('cloud-synced-folders')}",
        )
    return SyncTarget(granted.name, wanted)


def check_metadata_suffix(suffix: str) -> str:
    """`suffix` if Encord's matcher takes it, else UsageError naming the flag."""
    if not 1 <= len(suffix) <= MAX_METADATA_SUFFIX_CHARS or "/" in suffix:
        raise UsageError(
            f"--metadata-suffix {suffix!r}: give 1 to {MAX_METADATA_SUFFIX_CHARS} characters "
            f"without '/', such as {DEFAULT_METADATA_SUFFIX}"
        )
    return suffix


# --- the SDK calls ---------------------------------------------------------------------------


def _same_url(a: str | None, b: str) -> bool:
    return (a or "").rstrip("/") == b.rstrip("/")


def _children(
    session: EncordSession, parent: StorageFolder | None, name: str
) -> list[StorageFolder]:
    def fetch(_: int) -> list[StorageFolder]:
        source = (
            session.client.list_storage_folders(search=name)
            if parent is None
            else parent.list_subfolders(search=name)
        )
        return [f for f in source if f.name == name]  # `search` is fuzzy on the server

    return session.call(f"looking up folder {name!r}", fetch)


def _existing_ok(
    folder: StorageFolder, path: str, target: SyncTarget, integration: Integration
) -> None:
    """Refuse a folder at `path` that is not cloud-synced to `target` through `integration`."""
    if not folder.is_cloud_synced:
        raise UsageError(
            f"folder {path!r} ({folder.uuid}) already exists as a plain folder; a plain folder "
            "cannot become cloud-synced",
            hint="pass another --folder (a new one is created), or delete that folder in Encord "
            f"first; {troubleshooting('cloud-synced-folders')}",
        )
    if not _same_url(folder.remote_url, target.remote_url):
        raise UsageError(
            f"folder {path!r} ({folder.uuid}) is already cloud-synced to {folder.remote_url}, "
            f"not {target.remote_url}",
            hint="pass another --folder for this prefix (one folder mirrors one prefix)",
        )
    if folder.integration_hash is not None and str(folder.integration_hash) != integration.id:
        raise UsageError(
            f"folder {path!r} ({folder.uuid}) is cloud-synced to {target.remote_url} through "
            f"integration {folder.integration_hash}, not {integration.title!r} ({integration.id})",
            hint="pass that integration with --integration, or another --folder",
        )


def _create(
    session: EncordSession,
    parent: StorageFolder | None,
    name: str,
    target: SyncTarget,
    integration: Integration,
    description: str | None,
) -> StorageFolder:
    from encord.orm.storage import CloudSyncedFolderParams

    params = CloudSyncedFolderParams(
        integration_uuid=uuid.UUID(integration.id), remote_url=target.remote_url
    )

    def attempt(number: int) -> StorageFolder:
        if number > 1:
            # An earlier attempt may have created it before its answer was lost: never twice.
            existing = _children(session, parent, name)
            if existing:
                return existing[0]
        return session.client.create_storage_folder(
            name,
            description=description,
            parent_folder=parent.uuid if parent is not None else None,
            cloud_synced_folder_params=params,
        )

    return session.call(f"creating cloud-synced folder {name!r}", attempt)


def _metadata_suffix(session: EncordSession, folder: StorageFolder) -> str | None:
    """The folder's sidecar suffix, or None when metadata ingestion is off (or paused)."""
    config = session.call(
        f"reading the configuration of folder {folder.name!r}", lambda _: folder.get_folder_config()
    )
    ingestion = config.metadata_ingestion
    if ingestion is None or ingestion.paused:
        return None
    return str(ingestion.matcher.suffix)


def _enable_metadata(session: EncordSession, folder: StorageFolder, suffix: str) -> None:
    from encord.orm.storage import SidecarMatcherSuffix

    matcher = SidecarMatcherSuffix(suffix=suffix)
    # A read-modify-write of the folder's configuration: repeating it is harmless.
    session.call(
        f"switching on sidecar metadata for folder {folder.name!r}",
        lambda _: folder.enable_metadata_ingestion(matcher),
    )


def create_cloud_synced_folder(
    session: EncordSession,
    *,
    path: str,
    target: SyncTarget,
    integration: Integration,
    metadata_suffix: str = DEFAULT_METADATA_SUFFIX,
    description: str | None = None,
) -> SyncedFolder:
    """Find or create the cloud-synced folder at `path` (``parent/child``; missing parents are
    created as plain folders) for `target`, with sidecar metadata matched by `metadata_suffix`."""
    if is_uuid(path):  # an existing folder: it must be synced to `target` already
        folder = session.call(
            f"reading folder {path}", lambda _: session.client.get_storage_folder(path)
        )
        return _finish(session, folder, str(folder.name), target, integration, metadata_suffix)
    names = [part for part in path.strip("/").split("/")]
    if not all(names):
        raise UsageError(f"--folder {path!r} has an empty path element")
    parent_ref: FolderRef | None = None
    parent: StorageFolder | None = None
    if len(names) > 1:
        parent_ref = session.resolve_folder("/".join(names[:-1]))
        parent = parent_ref.handle
    name, full = names[-1], "/".join(names)
    matches = _children(session, parent, name)
    if len(matches) > 1:
        ids = ", ".join(str(f.uuid) for f in matches)
        raise UsageError(
            f"{len(matches)} folders are named {full!r} ({ids}); rename one in Encord, or pass "
            "another --folder"
        )
    if matches:
        return _finish(session, matches[0], full, target, integration, metadata_suffix)
    folder = _create(session, parent, name, target, integration, description)
    result = _finish(session, folder, full, target, integration, metadata_suffix, created=True)
    result.parents_created = list(parent_ref.created) if parent_ref else []
    return result


def _finish(
    session: EncordSession,
    folder: StorageFolder,
    path: str,
    target: SyncTarget,
    integration: Integration,
    metadata_suffix: str,
    *,
    created: bool = False,
) -> SyncedFolder:
    """Check an existing folder (refused unless synced to `target`), then its metadata suffix."""
    if not created:
        _existing_ok(folder, path, target, integration)
    before = _metadata_suffix(session, folder)
    if before != metadata_suffix:
        _enable_metadata(session, folder, metadata_suffix)
    return SyncedFolder(
        path=path,
        uuid=str(folder.uuid),
        remote_url=target.remote_url,
        integration=integration,
        metadata_suffix=metadata_suffix,
        created=created,
        metadata_before=before,
    )
