"""`EncordStandIn`: a local HTTP server speaking the part of Encord's v2 API the
registration flow uses, for tests and the demo only. The real `encord` SDK talks to it.

Every request under `/v2/public/` must carry a valid Ed25519 signature from a key
registered with `register_public_key`; otherwise 401. Inspection endpoints outside
the API (no signature; for the demo and for debugging):

- `GET /_standin/folders` -> `[{"uuid","name","parent","description"}]`
- `GET /_standin/folders/{uuid}/items` -> the items as `items_in_folder` returns them
- `GET /_standin/calls` -> counters of processed API calls by route name

Route names (for faults, holds and `registration_calls`): integrations, create_folder,
list_folders, search_folders, get_folder, list_subfolders, config_get, config_post, start,
poll, cancel, items, child_items, delete_items, schema_get, schema_post.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.standin import metadata_schema
from tests.standin.faults import FaultInjector, FaultPlan, Hold, HoldBoard
from tests.standin.signature import SignatureError, verify_request
from tests.standin.store import BadRequest, NotFound, Store

API = "/v2/public"
_UUID = r"[0-9a-fA-F-]{36}"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/cloud-integrations$"), "integrations"),
    ("POST", re.compile(r"^/storage/folders$"), "create_folder"),
    ("GET", re.compile(r"^/storage/folders$"), "list_folders"),
    ("GET", re.compile(r"^/storage/search/folders$"), "search_folders"),
    ("GET", re.compile(rf"^/storage/folders/(?P<folder>{_UUID})$"), "get_folder"),
    ("GET", re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/folders$"), "list_subfolders"),
    ("GET", re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/folder-config$"), "config_get"),
    ("POST", re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/folder-config$"), "config_post"),
    ("GET", re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/items$"), "items"),
    (
        "GET",
        re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/items/(?P<item>{_UUID})/child-items$"),
        "child_items",
    ),
    ("POST", re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/items/delete$"), "delete_items"),
    ("POST", re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/data-upload-jobs$"), "start"),
    (
        "GET",
        re.compile(rf"^/storage/folders/(?P<folder>{_UUID})/data-upload-jobs/(?P<job>{_UUID})$"),
        "poll",
    ),
    (
        "POST",
        re.compile(
            rf"^/storage/folders/(?P<folder>{_UUID})/data-upload-jobs/(?P<job>{_UUID})/cancel$"
        ),
        "cancel",
    ),
    ("GET", re.compile(r"^/organisation/client-metadata-schema-v2$"), "schema_get"),
    ("POST", re.compile(r"^/organisation/client-metadata-schema-v2$"), "schema_post"),
]


class ApiError(Exception):
    """An error answer: HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["False"])[0].lower() == "true"


def _page(results: list[Any], query: dict[str, list[str]]) -> dict[str, Any]:
    size = int(query.get("pageSize", ["100"])[0])
    start = int(query.get("pageToken", ["0"])[0] or 0)
    chunk = results[start : start + size]
    following = start + size
    return {"results": chunk, "nextPageToken": str(following) if following < len(results) else None}


class EncordStandIn:
    """A local Encord API stand-in: start(), use `.domain` with the SDK, inspect, stop()."""

    def __init__(
        self,
        *,
        job_latency: float = 0.0,
        max_poll_hold: float = 2.0,
        host: str = "127.0.0.1",
        port: int = 0,
        concurrent_jobs: bool = False,
        job_latency_per_item: float = 0.0,
    ) -> None:
        self.store = Store(
            job_latency=job_latency,
            concurrent_jobs=concurrent_jobs,
            job_latency_per_item=job_latency_per_item,
        )
        self.max_poll_hold = max_poll_hold
        self.faults = FaultInjector()
        self.holds = HoldBoard()
        self.registration_calls: Counter[str] = Counter()
        self.requests_seen: Counter[str] = Counter()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self.forbidden_routes: set[str] = set()
        self._calls_lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------
    @property
    def domain(self) -> str:
        """The base URL to pass to the SDK as `domain`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EncordStandIn:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release any held request."""
        self.holds.release_all()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread (standalone mode)."""
        self._server.serve_forever()

    def __enter__(self) -> EncordStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- set-up --------------------------------------------------------------------
    def register_public_key(self, public_key_hex: str) -> None:
        """Accept requests signed by this key (raw Ed25519 public key, hex)."""
        self._keys[public_key_hex] = Ed25519PublicKey.from_public_bytes(
            bytes.fromhex(public_key_hex)
        )

    def add_integration(self, title: str) -> str:
        """Add a cloud integration visible to every key; return its UUID."""
        return self.store.add_integration(title)

    def create_folder(self, path: str, description: str = "") -> str:
        """Create folder `a/b/c` (reusing existing ancestors; the last is always new)."""
        parent: str | None = None
        names = path.split("/")
        for depth, name in enumerate(names):
            existing = [f for f in self.store.list_folders(parent, None, False) if f.name == name]
            if existing and depth < len(names) - 1:
                parent = existing[0].uuid
                continue
            parent = self.store.create_folder(name, description, parent, None).uuid
        assert parent is not None
        return parent

    @property
    def job_latency(self) -> float:
        """Seconds from a job's start until it finishes."""
        return self.store.job_latency

    @job_latency.setter
    def job_latency(self, value: float) -> None:
        self.store.job_latency = value

    @property
    def job_latency_per_item(self) -> float:
        """Seconds each unit adds to its job's latency."""
        return self.store.job_latency_per_item

    @job_latency_per_item.setter
    def job_latency_per_item(self, value: float) -> None:
        self.store.job_latency_per_item = value

    @property
    def concurrent_jobs(self) -> bool:
        """Process overlapping jobs side by side (each checks duplicates as of its start)."""
        return self.store.concurrent_jobs

    @concurrent_jobs.setter
    def concurrent_jobs(self, value: bool) -> None:
        self.store.concurrent_jobs = value

    def pause_jobs(self) -> None:
        """Keep every job PENDING (polls answer PENDING) until `resume_jobs`."""
        with self.store.lock:
            self.store.paused = True

    def resume_jobs(self) -> None:
        """Let jobs finish again (those already due finish at the next request)."""
        with self.store.lock:
            self.store.paused = False

    def cancel_job(self, job_uuid: str) -> int:
        """Cancel a pending job as a person in Encord's UI would; return the units cancelled."""
        return self.store.cancel_job(job_uuid)

    # -- faults and holds ------------------------------------------------------------
    def set_faults(self, plan: FaultPlan | None = None, **rates: Any) -> None:
        """Inject transient faults (a FaultPlan, or its fields as keywords)."""
        self.faults.set_plan(plan if plan is not None else FaultPlan(**rates))

    def lose_answers(self, route: str, count: int = 1) -> None:
        """The next `count` requests to `route` take effect; their answers never arrive."""
        self.faults.lose_answers(route, count)

    def clear_faults(self) -> None:
        """No more injected faults."""
        self.faults.set_plan(FaultPlan())

    def fail_units(self, urls: Iterable[str], error: str = "Access denied to object") -> None:
        """Units containing any of these URLs fail in every job that finishes from now on."""
        with self.store.lock:
            for url in urls:
                self.store.fail_urls[url] = f"{error}: {url}"

    def reject_files_with(self, urls: Iterable[str], message: str = "invalid file") -> None:
        """Job starts whose document holds any of these URLs are refused with 400."""
        with self.store.lock:
            for url in urls:
                self.store.reject_urls[url] = f"{message}: {url}"

    def clear_unit_failures(self) -> None:
        """Units stop failing."""
        with self.store.lock:
            self.store.fail_urls.clear()

    def hold(self, route: str, phase: str = "before", skip: int = 0) -> Hold:
        """Hold the next request to `route` (after skipping `skip` of them) at `phase`."""
        return self.holds.add(Hold(route, phase, skip))

    # -- inspection ------------------------------------------------------------------
    def folders(self) -> list[dict[str, Any]]:
        """Every folder: uuid, name, parent, description, path."""
        with self.store.lock:
            out = []
            for folder in self.store.folders.values():
                names = [p["name"] for p in folder.path_to_root(self.store.folders)]
                out.append(
                    {
                        "uuid": folder.uuid,
                        "name": folder.name,
                        "parent": folder.parent,
                        "description": folder.description,
                        "path": "/".join([*names, folder.name]),
                    }
                )
            return out

    def folder_sync(self, folder_uuid: str) -> dict[str, Any]:
        """A folder's sync settings: folderType (``generic`` or ``cloudLinked``), integration,
        remoteUrl, and its configuration as last POSTed (``metadataIngestion``)."""
        with self.store.lock:
            folder = self.store.folders[folder_uuid]
            return {
                "folderType": folder.folder_type,
                "integration": folder.integration,
                "remoteUrl": folder.remote_url,
                "config": dict(folder.config),
            }

    def folder_uuid(self, path: str) -> str | None:
        """The UUID of the (first) folder at `a/b/c`, or None."""
        matches = [f["uuid"] for f in self.folders() if f["path"] == path]
        return matches[0] if matches else None

    def items_in_folder(self, folder_uuid: str) -> list[dict[str, Any]]:
        """The items of a folder (after finishing every due job)."""
        with self.store.lock:
            self.store.settle()
            return [item.inspect() for item in self.store.items.get(folder_uuid, [])]

    def jobs(self) -> list[dict[str, Any]]:
        """Every job: uuid, folder, status, units, skipDuplicateUrls, created item count."""
        with self.store.lock:
            self.store.settle()
            return [
                {
                    "uuid": j.uuid,
                    "folder": j.folder_uuid,
                    "status": j.status,
                    "units": len(j.units),
                    "skipDuplicateUrls": j.skip_duplicates,
                    "ignoreErrors": j.ignore_errors,
                    "upsertMetadata": j.upsert_metadata,
                    "itemsCreated": len(j.items_with_names),
                    "urls": [list(unit.urls) for unit in j.units],
                }
                for j in sorted(self.store.jobs.values(), key=lambda j: j.seq)
            ]

    def finish_all_jobs(self) -> None:
        """Finish every pending job now, whatever its latency."""
        self.store.settle(now=float("inf"))

    # -- request handling ------------------------------------------------------------
    def _count(self, counter: Counter[str], route: str) -> None:
        with self._calls_lock:
            counter[route] += 1

    def _dispatch(
        self, route: str, groups: dict[str, str], query: dict[str, list[str]], body: Any
    ) -> Any:
        store = self.store
        store.settle()
        if route == "integrations":
            titles = query.get("filterIntegrationTitles")
            uuids = query.get("filterIntegrationUuids")
            with store.lock:
                found = [
                    {"integrationUuid": uid, "title": title}
                    for uid, title in store.integrations.items()
                    if (titles is None or title in titles) and (uuids is None or uid in uuids)
                ]
            return {"result": found}
        if route == "create_folder":
            if not isinstance(body, dict):
                raise ApiError(400, "body must be a JSON object")
            folder = store.create_folder(
                str(body.get("name") or ""),
                body.get("description"),
                body.get("parent"),
                body.get("clientMetadata"),
                body.get("cloudSyncedFolderParams"),
            )
            return folder.to_wire(store.folders)
        if route in ("list_folders", "search_folders", "list_subfolders"):
            search = query.get("search", [None])[0]
            recursive = route == "search_folders" or _flag(query, "isRecursive")
            found = store.list_folders(groups.get("folder"), search, recursive)
            with store.lock:
                wire = [f.to_wire(store.folders) for f in found]
            return _page(wire, query)
        if route == "get_folder":
            with store.lock:
                folder = store.folders.get(groups["folder"])
                if folder is None:
                    raise NotFound(groups["folder"])
                return folder.to_wire(store.folders)
        if route == "config_get":
            return store.folder_config(groups["folder"])
        if route == "config_post":
            store.set_folder_config(groups["folder"], body)
            return None
        if route == "items":
            found = store.list_items(
                groups["folder"],
                query.get("search", [None])[0],
                query.get("itemTypes", []),
                query.get("order", ["name"])[0],
                _flag(query, "desc"),
            )
            with store.lock:
                wire = [i.to_wire() for i in found]
            return _page(wire, query)
        if route == "child_items":
            return _page(
                store.child_items(groups["folder"], groups["item"]), {"pageSize": ["1000"]}
            )
        if route == "delete_items":
            if not isinstance(body, dict) or not isinstance(body.get("childUuids"), list):
                raise ApiError(400, "body must be a JSON object with childUuids")
            removed = store.delete_items(groups["folder"], [str(u) for u in body["childUuids"]])
            return {"removedItemsCount": removed, "removedFoldersCount": 0}
        if route == "start":
            if not isinstance(body, dict):
                raise ApiError(400, "body must be a JSON object")
            return store.start_job(groups["folder"], body).uuid
        if route == "poll":
            return self._poll(groups["folder"], groups["job"], query)
        if route == "cancel":
            return {"unitsCancelledCount": store.cancel_job(groups["job"])}
        if route == "schema_get":
            return metadata_schema.get_schema(store)
        if route == "schema_post":
            metadata_schema.post_schema(store, body)
            return None
        raise ApiError(404, "no such route")

    def _poll(self, folder: str, job_uuid: str, query: dict[str, list[str]]) -> Any:
        store = self.store
        with store.lock:
            job = store.jobs.get(job_uuid)
            if job is None or job.folder_uuid != folder:
                raise NotFound(job_uuid)
            due = job.due_at
        timeout = float(query.get("timeoutSeconds", ["60"])[0])
        wait = min(timeout, self.max_poll_hold, due - time.time())
        if wait > 0:
            time.sleep(wait)
        store.settle()
        with store.lock:
            return job.to_wire()

    def _inspect(self, path: str) -> Any:
        if path == "/_standin/folders":
            return self.folders()
        if path == "/_standin/calls":
            with self._calls_lock:
                return dict(self.registration_calls)
        match = re.match(rf"^/_standin/folders/({_UUID})/items$", path)
        if match:
            return self.items_in_folder(match.group(1))
        raise ApiError(404, "no such inspection path")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "EncordStandIn/1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests read their own output

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _send(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = orjson.dumps(payload)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (killed in a crash test)

            def _drop(self) -> None:
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                if split.path.startswith("/_standin/"):
                    try:
                        self._send(200, standin._inspect(split.path))
                    except ApiError as exc:
                        self._send(exc.status, {"message": exc.message})
                    return
                if not split.path.startswith(API + "/"):
                    self._send(404, {"message": "not found"})
                    return
                sub = split.path[len(API) :]
                for verb, pattern, name in ROUTES:
                    match = pattern.match(sub)
                    if verb == method and match:
                        self._route(method, name, match.groupdict(), split.query, raw)
                        return
                self._send(404, {"message": f"no route for {method} {sub}"})

            def _route(
                self, method: str, route: str, groups: dict[str, str], query: str, raw: bytes
            ) -> None:
                standin._count(standin.requests_seen, route)
                decision = standin.faults.decide(route, method)
                if decision.kind == "429":
                    retry_after = str(standin.faults.plan.retry_after)
                    self._send(
                        429, {"message": "Rate limit exceeded"}, {"Retry-After": retry_after}
                    )
                    return
                if decision.kind == "500":
                    self._send(500, {"message": "injected internal error"})
                    return
                if decision.kind == "drop_before":
                    self._drop()
                    return
                if decision.kind == "slow":
                    time.sleep(standin.faults.plan.slow_seconds)
                try:
                    verify_request(method, self.path, self.headers, raw, standin._keys)
                except SignatureError as exc:
                    self._send(401, {"message": f"Authentication failed: {exc}"})
                    return
                if route in standin.forbidden_routes:
                    self._send(403, {"message": f"the user may not {route.replace('_', ' ')}"})
                    return
                hold = standin.holds.take(route, "before")
                if hold is not None:
                    hold.reached.set()
                    hold.released.wait()
                try:
                    body = orjson.loads(raw) if raw else None
                    result = standin._dispatch(route, groups, parse_qs(query), body)
                except orjson.JSONDecodeError:
                    self._send(400, {"message": "body is not valid JSON"})
                    return
                except BadRequest as exc:
                    self._send(400, {"message": str(exc)})
                    return
                except NotFound as exc:
                    self._send(404, {"message": f"not found: {exc}"})
                    return
                except ApiError as exc:
                    self._send(exc.status, {"message": exc.message})
                    return
                standin._count(standin.registration_calls, route)
                hold = standin.holds.take(route, "after")
                if hold is not None:
                    hold.reached.set()
                    hold.released.wait()
                if decision.kind == "drop_after":
                    self._drop()
                    return
                self._send(200, result)

        return Handler
