"""What the stand-in holds: integrations, folders, items and registration jobs.

Jobs finish `job_latency` seconds after they start, plus `job_latency_per_item` seconds per
unit (a fixed cost per job and a cost per item, the shape adaptive file sizing reacts to).
They are settled lazily, in the order they were started, whenever any request or
inspection touches the store, so a job whose client died still completes (as on Encord).
By default duplicate detection sees every earlier job's items first (jobs are processed one
at a time). With
`concurrent_jobs` on, jobs whose processing overlaps are processed side by side: each
checks for duplicates against the items that existed when it started, so two overlapping
jobs holding one URL both check before either inserts, and both insert it (the race a
re-send after a lost answer can meet on Encord). `paused` keeps every job PENDING.

Assumptions about Encord's behaviour that the stand-in encodes (each checked against
the reference where it could be):
- `skip_duplicate_urls`: a unit is a duplicate when the folder already holds an item
  with exactly the same URL (single-file units) or exactly the same URL list (image
  groups, DICOM series). Duplicates count as done units and create no item.
- `upsert_metadata` (with `skip_duplicate_urls`): the duplicate's metadata is replaced.
- A failing unit never blocks the others; with `ignoreErrors` false the job ends in
  ERROR, with it true in DONE; `unitErrors` lists every failure either way.
- `itemsWithNames` lists one entry per item the job created.
- A job's items come as `externalFiles` (the JSON file form, parsed here by hand) or as
  `dataItems` (the SDK's typed `DataUploadItems`, parsed with the SDK's own pydantic
  models: a payload the SDK would not produce, including a key its models do not define,
  is refused with 400). Metadata is stored as sent, and so is the form it came in.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
import threading
import time
import types
import typing
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

# Imported up front (not on the first typed request): the stand-in parses `dataItems`
# with the SDK's own models.
from encord.orm.storage import DataUploadItems
from pydantic import BaseModel, ValidationError

# manifest key -> (itemType for single-URL units, True when the unit lists objectUrl_N)
UNIT_KINDS: dict[str, tuple[str, bool]] = {
    "videos": ("video", False),
    "images": ("image", False),
    "audio": ("audio", False),
    "text": ("plainText", False),
    "pdf": ("pdf", False),
    "nifti": ("nifti", False),
    "image_groups": ("imageGroup", True),
    "dicom_series": ("dicomSeries", True),
}
TOP_LEVEL_FLAGS = {"skip_duplicate_urls", "upsert_metadata"}
FILE_FORM, TYPED_FORM = "externalFiles", "dataItems"
# dataItems list -> (itemType, the item's list of files or None, its media-metadata field)
TYPED_KINDS: dict[str, tuple[str, str | None, str | None]] = {
    "videos": ("video", None, "video_metadata"),
    "images": ("image", None, "image_metadata"),
    "audio": ("audio", None, "audio_metadata"),
    "text": ("plainText", None, "text_metadata"),
    "pdf": ("pdf", None, "pdf_metadata"),
    "nifti": ("nifti", None, None),
    "image_groups": ("imageGroup", "images", None),
    "dicom_series": ("dicomSeries", "dicom_files", None),
}
_MEDIA_KEYS = ("videoMetadata", "imageMetadata", "audioMetadata", "textMetadata", "pdfMetadata")
MAX_TITLE_LENGTH = 300


class BadRequest(Exception):
    """Answered as 400 InvalidArguments with this message."""


class NotFound(Exception):
    """Answered as 404."""


_IDS = random.Random()
_ID_SERIAL = itertools.count(1)
_ID_BLOCK = 1 << 16
"""Ids drawn per random prefix: a new random prefix every this many ids."""
_id_prefix = ""


def new_id() -> str:
    """A version-4-shaped UUID string, unique in this process, far cheaper than `uuid.uuid4()`.

    Its first 20 hex digits are random, drawn anew every `_ID_BLOCK` ids; the last 12 count
    up (`itertools.count` is atomic under the GIL), so no two ids repeat. Item UUIDs are
    opaque to clients: they need to be unique and UUID-shaped, not unpredictable.
    """
    global _id_prefix
    serial = next(_ID_SERIAL)
    prefix = _id_prefix
    if not prefix or serial % _ID_BLOCK == 0:
        text = f"{_IDS.getrandbits(80):020x}"
        prefix = _id_prefix = f"{text[:8]}-{text[8:12]}-4{text[13:16]}-8{text[17:20]}-"
    return f"{prefix}{serial:012x}"


def _now_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).isoformat()


@dataclass
class Folder:
    """A storage folder."""

    uuid: str
    name: str
    description: str
    parent: str | None
    client_metadata: str | None
    created_at: str
    folder_type: str = "generic"
    """``generic``, or ``cloudLinked`` for a cloud-synced folder (`integration`, `remote_url`)."""
    integration: str | None = None
    remote_url: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    """The folder configuration as last POSTed to ``folder-config`` (``metadataIngestion``)."""

    def path_to_root(self, folders: dict[str, Folder]) -> list[dict[str, Any]]:
        """The chain of ancestors, nearest last, as the API shows it."""
        chain: list[dict[str, Any]] = []
        node = self.parent
        while node is not None:
            parent = folders[node]
            chain.insert(
                0,
                {
                    "uuid": parent.uuid,
                    "parentUuid": parent.parent,
                    "name": parent.name,
                    "syncedDatasetHash": None,
                },
            )
            node = parent.parent
        return chain

    def to_wire(self, folders: dict[str, Folder]) -> dict[str, Any]:
        """The Folder JSON the SDK parses."""
        return {
            "uuid": self.uuid,
            "parent": self.parent,
            "name": self.name,
            "description": self.description,
            "clientMetadata": self.client_metadata,
            "owner": "standin@example.com",
            "createdAt": self.created_at,
            "lastEditedAt": self.created_at,
            "userRole": "admin",
            "syncedDatasetHash": None,
            "pathToRoot": self.path_to_root(folders),
            "folderType": self.folder_type,
            "integrationHash": self.integration,
            "remoteUrl": self.remote_url,
        }


@dataclass(slots=True)
class Unit:
    """One job unit: a video, an image, an image group, a DICOM series..."""

    kind: str
    item_type: str
    title: str
    urls: tuple[str, ...]
    client_metadata: dict[str, Any]
    media_metadata: dict[str, Any] | None = None
    file_titles: tuple[str | None, ...] = ()
    form: str = FILE_FORM


@dataclass(slots=True)
class Item:
    """A stored item."""

    uuid: str
    parent: str
    item_type: str
    name: str
    urls: tuple[str, ...]
    client_metadata: dict[str, Any]
    integration_hash: str
    created_at: str
    job_uuid: str
    media_metadata: dict[str, Any] | None = None
    file_titles: tuple[str | None, ...] = ()
    form: str = FILE_FORM
    inserted: int = 0
    """Insertion order in the store (what a concurrent job could see when it started)."""
    child_uuids: tuple[str, ...] = ()
    """For multi-file items: one UUID per file (the item's child items)."""

    @property
    def url(self) -> str | None:
        """The single object URL (None for multi-file items)."""
        return self.urls[0] if len(self.urls) == 1 and self.item_type not in _GROUP_TYPES else None

    def to_wire(self) -> dict[str, Any]:
        """The Item JSON the SDK parses."""
        import json

        return {
            "uuid": self.uuid,
            "parent": self.parent,
            "itemType": self.item_type,
            "name": self.name,
            "description": "",
            "clientMetadata": json.dumps(self.client_metadata),
            "owner": "standin@example.com",
            "createdAt": self.created_at,
            "lastEditedAt": self.created_at,
            "backedDataUnitsCount": 1,
            "storageLocation": "s3",
            "integrationHash": self.integration_hash,
            "url": self.url,
            "signedUrl": None,
            "fileSize": None,
            "mimeType": None,
            "duration": None,
            "fps": None,
            "height": None,
            "width": None,
            "dicomInstanceUid": None,
            "dicomStudyUid": None,
            "dicomSeriesUid": None,
            "frameCount": None,
            "audioSampleRate": None,
            "audioBitDepth": None,
            "audioCodec": None,
            "audioNumChannels": None,
        }

    def child_to_wire(self, index: int) -> dict[str, Any]:
        """Child item `index` of a multi-file item (a frame, a DICOM file), as the SDK parses it."""
        child = Item(
            uuid=self.child_uuids[index],
            parent=self.parent,
            item_type="image" if self.item_type != "dicomSeries" else "dicomFile",
            name=(self.file_titles[index] if index < len(self.file_titles) else None)
            or _default_title(self.urls[index]),
            urls=(self.urls[index],),
            client_metadata={},
            integration_hash=self.integration_hash,
            created_at=self.created_at,
            job_uuid=self.job_uuid,
        )
        return child.to_wire()

    def inspect(self) -> dict[str, Any]:
        """A plain view for tests and the demo."""
        return {
            "uuid": self.uuid,
            "createdAt": self.created_at,
            "title": self.name,
            "url": self.url,
            "urls": list(self.urls),
            "clientMetadata": self.client_metadata,
            "type": self.item_type,
            "jobUuid": self.job_uuid,
            "mediaMetadata": self.media_metadata,
            "fileTitles": list(self.file_titles),
            "form": self.form,
        }


_GROUP_TYPES = {"imageGroup", "imageSequence", "dicomSeries"}


@dataclass
class Job:
    """A registration job (`data-upload-jobs`)."""

    uuid: str
    folder_uuid: str
    seq: int
    started_at: float
    due_at: float
    units: list[Unit]
    ignore_errors: bool
    skip_duplicates: bool
    upsert_metadata: bool
    integration: str
    file_name: str | None
    visible_upto: int | None = None
    """Concurrent mode: only items inserted before this count are seen as duplicates."""
    status: str = "PENDING"
    items_with_names: list[dict[str, str]] = field(default_factory=list)
    unit_errors: list[dict[str, Any]] = field(default_factory=list)
    done_count: int = 0
    cancelled_count: int = 0

    def to_wire(self) -> dict[str, Any]:
        """The long-polling state the SDK parses."""
        pending = len(self.units) if self.status == "PENDING" else 0
        return {
            "status": self.status,
            "itemsWithNames": self.items_with_names,
            "errors": [e["error"] for e in self.unit_errors] if self.status == "ERROR" else [],
            "unitsPendingCount": pending,
            "unitsDoneCount": self.done_count,
            "unitsErrorCount": len(self.unit_errors),
            "unitsCancelledCount": self.cancelled_count,
            "unitErrors": self.unit_errors,
            "fileName": self.file_name,
        }


def _default_title(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or url


def parse_units(files: Any) -> list[Unit]:
    """The units of a registration document, or BadRequest naming what is wrong."""
    if not isinstance(files, dict):
        raise BadRequest("externalFiles must be a JSON object")
    units: list[Unit] = []
    for key, value in files.items():
        if key in TOP_LEVEL_FLAGS:
            if not isinstance(value, bool):
                raise BadRequest(f"{key} must be a boolean")
            continue
        if key not in UNIT_KINDS:
            raise BadRequest(f"unknown top-level key {key!r} in the registration file")
        if not isinstance(value, list):
            raise BadRequest(f"{key} must be a list")
        item_type, multi = UNIT_KINDS[key]
        for index, entry in enumerate(value):
            units.append(_parse_unit(key, item_type, multi, index, entry))
    return units


def _parse_unit(key: str, item_type: str, multi: bool, index: int, entry: Any) -> Unit:
    where = f"{key}[{index}]"
    if not isinstance(entry, dict):
        raise BadRequest(f"{where} must be an object")
    metadata = entry.get("clientMetadata", {})
    if not isinstance(metadata, dict):
        raise BadRequest(f"{where}.clientMetadata must be an object")
    if multi:
        numbered = sorted(
            (int(k.split("_", 1)[1]), v)
            for k, v in entry.items()
            if k.startswith("objectUrl_") and k.split("_", 1)[1].isdigit()
        )
        urls = tuple(str(v) for _, v in numbered)
        if not urls or [n for n, _ in numbered] != list(range(len(urls))):
            raise BadRequest(f"{where} needs objectUrl_0 ... objectUrl_N numbered from 0")
        title = entry.get("title")
        if not isinstance(title, str) or not title:
            raise BadRequest(f"{where}.title is required")
        if key == "image_groups" and entry.get("createVideo"):
            item_type = "imageSequence"
    else:
        url = entry.get("objectUrl")
        if not isinstance(url, str) or not url:
            raise BadRequest(f"{where}.objectUrl is required")
        urls = (url,)
        title = entry.get("title") or _default_title(url)
        media = next((entry[k] for k in _MEDIA_KEYS if k in entry), None)
    for url in urls:
        if any(ch.isspace() for ch in url):
            raise BadRequest(f"{where}: object URL contains whitespace: {url!r}")
    if len(title) > MAX_TITLE_LENGTH:
        raise BadRequest(f"{where}.title is longer than {MAX_TITLE_LENGTH} characters")
    return Unit(key, item_type, str(title), urls, metadata, None if multi else media)


def parse_data_items(data: Any) -> tuple[list[Unit], bool, bool]:
    """The units and flags of a `dataItems` payload, checked by the SDK's own models.

    The models decide what is valid; the units are then read from the payload as sent (the
    same values, and metadata exactly as the client wrote it).
    """
    if not isinstance(data, dict):
        raise BadRequest("dataItems must be a JSON object")
    unknown = _unknown_keys(DataUploadItems, data, "dataItems")
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if unknown[10:] else "")
        raise BadRequest(f"dataItems: keys the SDK's models do not define: {shown}")
    try:
        items = DataUploadItems.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(f"dataItems refused by the SDK's models: {exc}") from None
    for unsupported in ("image_groups_from_items", "time_series", "scenes"):
        if getattr(items, unsupported):
            raise BadRequest(f"dataItems.{unsupported}: not supported by the stand-in")
    units: list[Unit] = []
    for list_name, (item_type, files_field, media_field) in TYPED_KINDS.items():
        info = DataUploadItems.model_fields[list_name]
        entries = data.get(info.alias or list_name, data.get(list_name)) or ()
        for index, entry in enumerate(entries):
            units.append(_typed_unit(list_name, index, entry, item_type, files_field, media_field))
    return units, items.skip_duplicate_urls, items.upsert_metadata


@functools.cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _pick(entry: dict[str, Any], name: str) -> Any:
    """A field of a validated payload entry, by its alias (what the SDK sends) or its name."""
    value = entry.get(_camel(name))
    return entry.get(name) if value is None else value


_WHITESPACE = re.compile(r"\s")


def _typed_unit(
    list_name: str,
    index: int,
    entry: dict[str, Any],
    item_type: str,
    files_field: str | None,
    media_field: str | None,
) -> Unit:
    file_titles: tuple[str | None, ...] = ()
    title = entry.get("title")
    if files_field is None:
        url = entry.get("objectUrl") or entry.get("object_url")
        urls: tuple[str, ...] = (url,)
        title = title or _default_title(url)
    else:
        where = f"dataItems.{list_name}[{index}]"
        files = _pick(entry, files_field) or []
        urls = tuple(file["url"] for file in files)
        file_titles = tuple(file.get("title") for file in files)
        if not urls:
            raise BadRequest(f"{where}.{files_field} is empty")
        if not title:
            raise BadRequest(f"{where}.title is required (registered through an integration)")
        if list_name == "image_groups" and _pick(entry, "create_video"):
            item_type = "imageSequence"
    for url in urls:
        if not url or _WHITESPACE.search(url):
            raise BadRequest(f"dataItems.{list_name}[{index}]: bad object URL {url!r}")
    if len(title) > MAX_TITLE_LENGTH:
        raise BadRequest(
            f"dataItems.{list_name}[{index}].title is longer than {MAX_TITLE_LENGTH} characters"
        )
    metadata = entry.get("clientMetadata") or entry.get("client_metadata") or {}
    media = _pick(entry, media_field) if media_field else None
    return Unit(list_name, item_type, title, urls, metadata, media, file_titles, TYPED_FORM)


@functools.cache
def _allowed(model: Any) -> tuple[frozenset[str], dict[str, Any]]:
    """A model's field names and aliases, and its fields that hold models (by either spelling)."""
    allowed: set[str] = set()
    nested: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        spellings = {name, info.alias} - {None}
        allowed |= spellings
        annotation = info.annotation
        while typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if args else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for spelling in spellings:
                nested[spelling] = annotation
    return frozenset(allowed), nested


def _unknown_keys(model: Any, data: Any, where: str) -> list[str]:
    """Keys of `data` that no field of the pydantic `model` defines (by name or alias), nested."""
    if not isinstance(data, dict):
        return []
    allowed, nested = _allowed(model)
    keys = data.keys()
    found = [f"{where}.{key}" for key in keys - allowed] if not keys <= allowed else []
    for key in keys & nested.keys():
        value, inner = data[key], nested[key]
        if not isinstance(value, list):
            found += _unknown_keys(inner, value, f"{where}.{key}")
            continue
        inner_allowed, inner_nested = _allowed(inner)
        for n, element in enumerate(value):
            # The common case, checked without a call: a flat element with known keys only.
            if (
                isinstance(element, dict)
                and element.keys() <= inner_allowed
                and not (inner_nested and element.keys() & inner_nested.keys())
            ):
                continue
            found += _unknown_keys(inner, element, f"{where}.{key}[{n}]")
    return found


class Store:
    """Thread-safe storage of everything the stand-in knows."""

    def __init__(
        self,
        job_latency: float = 0.0,
        concurrent_jobs: bool = False,
        job_latency_per_item: float = 0.0,
    ) -> None:
        self.lock = threading.RLock()
        self.job_latency = job_latency
        self.job_latency_per_item = job_latency_per_item
        self.concurrent_jobs = concurrent_jobs
        self.paused = False
        self._inserted = itertools.count(1)
        self.integrations: dict[str, str] = {}
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, list[Item]] = {}
        self.jobs: dict[str, Job] = {}
        self._url_index: dict[str, dict[tuple[str, ...], Item]] = {}
        self._seq = itertools.count()
        self.fail_urls: dict[str, str] = {}
        self.reject_urls: dict[str, str] = {}
        self.metadata_schema: Any = None

    # -- integrations and folders --------------------------------------------------
    def add_integration(self, title: str, integration_uuid: str | None = None) -> str:
        """Make an integration visible to every user; return its UUID."""
        with self.lock:
            uid = integration_uuid or str(uuid.uuid4())
            self.integrations[uid] = title
            return uid

    def create_folder(
        self,
        name: str,
        description: str | None,
        parent: str | None,
        metadata: str | None,
        cloud_synced: Any = None,
    ) -> Folder:
        """Create a folder (names need not be unique, as on Encord).

        `cloud_synced` is the payload's ``cloudSyncedFolderParams`` (``integrationUuid``,
        ``remoteUrl``): the folder is then cloud-synced (``cloudLinked``) to that URL.
        """
        if not name:
            raise BadRequest("folder name is required")
        with self.lock:
            if parent is not None and parent not in self.folders:
                raise NotFound(parent)
            folder = Folder(
                str(uuid.uuid4()), name, description or "", parent, metadata, _now_iso()
            )
            if cloud_synced is not None:
                folder.folder_type = "cloudLinked"
                folder.integration, folder.remote_url = self._synced_to(cloud_synced)
            self.folders[folder.uuid] = folder
            self.items[folder.uuid] = []
            self._url_index[folder.uuid] = {}
            return folder

    def _synced_to(self, params: Any) -> tuple[str, str]:
        """(integration, remote URL) of valid ``cloudSyncedFolderParams``, else BadRequest."""
        if not isinstance(params, dict):
            raise BadRequest("cloudSyncedFolderParams must be a JSON object")
        integration = str(params.get("integrationUuid") or "")
        remote = str(params.get("remoteUrl") or "")
        if integration not in self.integrations:
            raise BadRequest(f"integration {integration!r} not found or not accessible")
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", remote):
            raise BadRequest(f"remoteUrl {remote!r} is not an s3://bucket/prefix/ URL")
        return integration, remote

    def folder_config(self, folder_uuid: str) -> dict[str, Any]:
        """A folder's configuration (``{}`` until one is POSTed)."""
        with self.lock:
            folder = self.folders.get(folder_uuid)
            if folder is None:
                raise NotFound(folder_uuid)
            return dict(folder.config)

    def set_folder_config(self, folder_uuid: str, config: Any) -> None:
        """Replace a cloud-synced folder's configuration (400 for a plain folder, as the SDK
        documents metadata ingestion for cloud-synced folders only)."""
        if not isinstance(config, dict):
            raise BadRequest("the folder configuration must be a JSON object")
        with self.lock:
            folder = self.folders.get(folder_uuid)
            if folder is None:
                raise NotFound(folder_uuid)
            if config.get("metadataIngestion") is not None and folder.folder_type != "cloudLinked":
                raise BadRequest("metadata ingestion needs a cloud-synced folder")
            folder.config = config

    def list_folders(self, parent: str | None, search: str | None, recursive: bool) -> list[Folder]:
        """Folders under `parent` (None = top level), fuzzy-filtered like the API."""
        with self.lock:
            if parent is not None and parent not in self.folders:
                raise NotFound(parent)
            found = [f for f in self.folders.values() if f.parent == parent]
            if recursive:
                frontier = list(found)
                while frontier:
                    node = frontier.pop()
                    children = [f for f in self.folders.values() if f.parent == node.uuid]
                    found.extend(children)
                    frontier.extend(children)
            if search:
                needle = search.lower()
                found = [f for f in found if needle in f.name.lower()]
            return sorted(found, key=lambda f: (f.name, f.created_at))

    # -- jobs ----------------------------------------------------------------------
    def start_job(self, folder_uuid: str, body: dict[str, Any]) -> Job:
        """Record a registration job; it finishes `job_latency` seconds from now, plus
        `job_latency_per_item` for each of its units."""
        with self.lock:
            if folder_uuid not in self.folders:
                raise NotFound(folder_uuid)
            integration = str(body.get("integrationHash") or "")
            if integration not in self.integrations:
                raise BadRequest(f"integration {integration!r} not found or not accessible")
        files, data = body.get(FILE_FORM), body.get(TYPED_FORM)
        if (files is None) == (data is None):
            raise BadRequest(f"give exactly one of {FILE_FORM} and {TYPED_FORM}")
        # Parsed outside the lock (it reads only the body): other requests, such as the poll
        # that finishes another job, are not held up by a large file being checked.
        if data is not None:
            units, skip_duplicates, upsert = parse_data_items(data)
        else:
            units = parse_units(files)
            assert isinstance(files, dict)  # parse_units refuses anything else
            skip_duplicates = bool(files.get("skip_duplicate_urls", False))
            upsert = bool(files.get("upsert_metadata", False))
        with self.lock:
            if folder_uuid not in self.folders:
                raise NotFound(folder_uuid)
            for unit in units:
                for url in unit.urls:
                    if url in self.reject_urls:
                        raise BadRequest(self.reject_urls[url])
            now = time.time()
            job = Job(
                uuid=str(uuid.uuid4()),
                folder_uuid=folder_uuid,
                seq=next(self._seq),
                started_at=now,
                due_at=now + self.job_latency + self.job_latency_per_item * len(units),
                units=units,
                ignore_errors=bool(body.get("ignoreErrors", False)),
                skip_duplicates=skip_duplicates,
                upsert_metadata=upsert,
                integration=integration,
                file_name=body.get("fileName"),
                # What this job's duplicate check sees (concurrent mode): the items inserted so far.
                visible_upto=next(self._inserted) if self.concurrent_jobs else None,
            )
            self.jobs[job.uuid] = job
            return job

    def settle(self, now: float | None = None) -> None:
        """Finish every job that is due (unless paused), in the order they become due."""
        moment = now if now is not None else time.time()
        with self.lock:
            if self.paused:
                return
            due = sorted(
                (j for j in self.jobs.values() if j.status == "PENDING" and j.due_at <= moment),
                key=lambda j: (j.due_at, j.seq),
            )
            for job in due:
                self._finish(job)

    def _visible(self, job: Job, item: Item | None) -> Item | None:
        """`item` if `job`'s duplicate check sees it (concurrent: inserted before it started)."""
        if item is None or job.visible_upto is None or item.job_uuid == job.uuid:
            return item
        return item if item.inserted < job.visible_upto else None

    def _finish(self, job: Job) -> None:
        index = self._url_index[job.folder_uuid]
        created_at = _now_iso()
        for unit in job.units:
            failing = [u for u in unit.urls if u in self.fail_urls]
            if failing:
                job.unit_errors.append(
                    {
                        "objectUrls": list(unit.urls),
                        "error": self.fail_urls[failing[0]],
                        "subtaskUuid": new_id(),
                        "actionDescription": f"Registering {unit.item_type}",
                    }
                )
                continue
            job.done_count += 1
            existing = self._visible(job, index.get(unit.urls))
            if job.skip_duplicates and existing is not None:
                if job.upsert_metadata:
                    existing.client_metadata = unit.client_metadata
                    if unit.media_metadata is not None:
                        existing.media_metadata = unit.media_metadata
                continue
            item = Item(
                uuid=new_id(),
                parent=job.folder_uuid,
                item_type=unit.item_type,
                name=unit.title,
                urls=unit.urls,
                client_metadata=unit.client_metadata,
                integration_hash=job.integration,
                created_at=created_at,
                job_uuid=job.uuid,
                media_metadata=unit.media_metadata,
                file_titles=unit.file_titles,
                form=unit.form,
                inserted=next(self._inserted),
                child_uuids=tuple(new_id() for _ in unit.urls) if len(unit.urls) > 1 else (),
            )
            self.items[job.folder_uuid].append(item)
            index.setdefault(unit.urls, item)
            job.items_with_names.append({"itemUuid": item.uuid, "name": item.name})
        job.status = "ERROR" if job.unit_errors and not job.ignore_errors else "DONE"

    def cancel_job(self, job_uuid: str) -> int:
        """Cancel a pending job; return how many units were cancelled."""
        with self.lock:
            self.settle()
            job = self.jobs.get(job_uuid)
            if job is None:
                raise NotFound(job_uuid)
            if job.status != "PENDING":
                return 0
            job.status = "CANCELLED"
            job.cancelled_count = len(job.units)
            return job.cancelled_count

    # -- items ---------------------------------------------------------------------
    def list_items(
        self, folder_uuid: str, search: str | None, item_types: list[str], order: str, desc: bool
    ) -> list[Item]:
        """A folder's items: names containing `search` (any case), of `item_types` (or any)."""
        with self.lock:
            if folder_uuid not in self.items:
                raise NotFound(folder_uuid)
            found = [
                item
                for item in self.items[folder_uuid]
                if (not search or search.lower() in item.name.lower())
                and (not item_types or item.item_type in item_types)
            ]
        if order == "createdAt":
            found.sort(key=lambda i: (i.created_at, i.inserted), reverse=desc)
        else:
            found.sort(key=lambda i: (i.name, i.inserted), reverse=desc)
        return found

    def child_items(self, folder_uuid: str, item_uuid: str) -> list[dict[str, Any]]:
        """The child items (one per file) of a multi-file item, as the API shows them."""
        with self.lock:
            item = next((i for i in self.items.get(folder_uuid, []) if i.uuid == item_uuid), None)
            if item is None:
                raise NotFound(item_uuid)
            return [item.child_to_wire(n) for n in range(len(item.child_uuids))]

    def delete_items(self, folder_uuid: str, item_uuids: list[str]) -> int:
        """Delete items of a folder; each must be one of its items (else NotFound, no change)."""
        with self.lock:
            if folder_uuid not in self.items:
                raise NotFound(folder_uuid)
            held = {item.uuid: item for item in self.items[folder_uuid]}
            missing = [uid for uid in item_uuids if uid not in held]
            if missing:
                raise NotFound(f"items {', '.join(missing)} are not in folder {folder_uuid}")
            gone = set(item_uuids)
            self.items[folder_uuid] = [i for i in self.items[folder_uuid] if i.uuid not in gone]
            index = self._url_index[folder_uuid]
            for urls in {held[uid].urls for uid in gone}:
                remaining = [i for i in self.items[folder_uuid] if i.urls == urls]
                if remaining:
                    index[urls] = min(remaining, key=lambda i: i.inserted)
                else:
                    index.pop(urls, None)
            return len(gone)
