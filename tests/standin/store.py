"""What the stand-in holds: integrations, folders, items and registration jobs.

Jobs finish `job_latency` seconds after they start. They are settled lazily, in the
order they were started, whenever any request or inspection touches the store, so a
job whose client died still completes (as on Encord) and duplicate detection sees
every earlier job's items first.

Assumptions about Encord's behaviour that the stand-in encodes (each checked against
the reference where it could be):
- `skip_duplicate_urls`: a unit is a duplicate when the folder already holds an item
  with exactly the same URL (single-file units) or exactly the same URL list (image
  groups, DICOM series). Duplicates count as done units and create no item.
- `upsert_metadata` (with `skip_duplicate_urls`): the duplicate's metadata is replaced.
- A failing unit never blocks the others; with `ignoreErrors` false the job ends in
  ERROR, with it true in DONE; `unitErrors` lists every failure either way.
- `itemsWithNames` lists one entry per item the job created.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

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
MAX_TITLE_LENGTH = 300


class BadRequest(Exception):
    """Answered as 400 InvalidArguments with this message."""


class NotFound(Exception):
    """Answered as 404."""


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
            "folderType": "generic",
        }


@dataclass
class Unit:
    """One job unit: a video, an image, an image group, a DICOM series..."""

    kind: str
    item_type: str
    title: str
    urls: tuple[str, ...]
    client_metadata: dict[str, Any]


@dataclass
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

    def inspect(self) -> dict[str, Any]:
        """A plain view for tests and the demo."""
        return {
            "uuid": self.uuid,
            "title": self.name,
            "url": self.url,
            "urls": list(self.urls),
            "clientMetadata": self.client_metadata,
            "type": self.item_type,
            "jobUuid": self.job_uuid,
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
    for url in urls:
        if any(ch.isspace() for ch in url):
            raise BadRequest(f"{where}: object URL contains whitespace: {url!r}")
    if len(title) > MAX_TITLE_LENGTH:
        raise BadRequest(f"{where}.title is longer than {MAX_TITLE_LENGTH} characters")
    return Unit(key, item_type, str(title), urls, metadata)


class Store:
    """Thread-safe storage of everything the stand-in knows."""

    def __init__(self, job_latency: float = 0.0) -> None:
        self.lock = threading.RLock()
        self.job_latency = job_latency
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
        self, name: str, description: str | None, parent: str | None, metadata: str | None
    ) -> Folder:
        """Create a folder (names need not be unique, as on Encord)."""
        if not name:
            raise BadRequest("folder name is required")
        with self.lock:
            if parent is not None and parent not in self.folders:
                raise NotFound(parent)
            folder = Folder(
                str(uuid.uuid4()), name, description or "", parent, metadata, _now_iso()
            )
            self.folders[folder.uuid] = folder
            self.items[folder.uuid] = []
            self._url_index[folder.uuid] = {}
            return folder

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
        """Record a registration job; it finishes `job_latency` seconds from now."""
        with self.lock:
            if folder_uuid not in self.folders:
                raise NotFound(folder_uuid)
            integration = str(body.get("integrationHash") or "")
            if integration not in self.integrations:
                raise BadRequest(f"integration {integration!r} not found or not accessible")
            files = body.get("externalFiles")
            units = parse_units(files)
            assert isinstance(files, dict)
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
                due_at=now + self.job_latency,
                units=units,
                ignore_errors=bool(body.get("ignoreErrors", False)),
                skip_duplicates=bool(files.get("skip_duplicate_urls", False)),
                upsert_metadata=bool(files.get("upsert_metadata", False)),
                integration=integration,
                file_name=body.get("fileName"),
            )
            self.jobs[job.uuid] = job
            return job

    def settle(self, now: float | None = None) -> None:
        """Finish every job that is due, in start order."""
        moment = now if now is not None else time.time()
        with self.lock:
            due = sorted(
                (j for j in self.jobs.values() if j.status == "PENDING" and j.due_at <= moment),
                key=lambda j: j.seq,
            )
            for job in due:
                self._finish(job)

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
                        "subtaskUuid": str(uuid.uuid4()),
                        "actionDescription": f"Registering {unit.item_type}",
                    }
                )
                continue
            job.done_count += 1
            existing = index.get(unit.urls)
            if job.skip_duplicates and existing is not None:
                if job.upsert_metadata:
                    existing.client_metadata = unit.client_metadata
                continue
            item = Item(
                uuid=str(uuid.uuid4()),
                parent=job.folder_uuid,
                item_type=unit.item_type,
                name=unit.title,
                urls=unit.urls,
                client_metadata=unit.client_metadata,
                integration_hash=job.integration,
                created_at=created_at,
                job_uuid=job.uuid,
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
