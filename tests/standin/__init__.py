"""A local stand-in for Encord's v2 API (tests and demo only; production code never imports it).

Use::

    from tests.standin import EncordStandIn, generate_ssh_key

    key_text, key_hex = generate_ssh_key()
    with EncordStandIn(job_latency=0.2) as encord:
        encord.register_public_key(key_hex)
        integration_uuid = encord.add_integration("my-s3")
        ...  # point the SDK (or `encord-register`) at encord.domain
        encord.items_in_folder(encord.folder_uuid("parent/child"))

Interfaces (kept stable for other tests and the demo):

- `EncordStandIn(job_latency=0.0, max_poll_hold=2.0, host="127.0.0.1", port=0,
  concurrent_jobs=False)`:
  `start()`, `stop()`, context manager, `.domain` (``http://127.0.0.1:PORT``),
  `register_public_key(hex)`, `add_integration(title) -> uuid`, `create_folder(path) -> uuid`,
  `folder_sync(folder_uuid)` (a cloud-synced folder's folderType, integration, remoteUrl, config),
  `folders()`, `folder_uuid(path)`, `items_in_folder(folder_uuid)` (dicts with uuid, createdAt,
  title, url, urls, clientMetadata, type, jobUuid), `jobs()` (with each unit's `urls`),
  `finish_all_jobs()`, `job_latency` (settable), `concurrent_jobs` (settable: overlapping jobs
  check for duplicates before either inserts), `pause_jobs()` / `resume_jobs()` (jobs stay
  PENDING meanwhile), `cancel_job(uuid)`,
  `set_faults(FaultPlan(...) or rate_429=..., rate_500=..., rate_drop=..., rate_slow=...,
  slow_seconds=..., retry_after=..., routes=frozenset(...), seed=...)`, `clear_faults()`,
  `lose_answers(route, count)` (the next requests take effect, their answers are dropped),
  `fail_units(urls, error=...)`, `clear_unit_failures()`, `reject_files_with(urls, message)`,
  `forbidden_routes` (a set of route names answered 403),
  `hold(route, phase, skip) -> Hold` (`wait_reached()`, `release()`), `registration_calls`
  and `requests_seen` (Counters by route name), `store.metadata_schema` (the schema as last POSTed).
- `generate_ssh_key() -> (openssh_private_key_text, public_key_hex)`.
- Standalone: ``python -m tests.standin --integration TITLE --public-key-file KEY[.pub]``
  (see `tests/standin/__main__.py`).
"""

from tests.standin.faults import FaultPlan, Hold
from tests.standin.keys import generate_ssh_key
from tests.standin.server import EncordStandIn

__all__ = ["EncordStandIn", "FaultPlan", "Hold", "generate_ssh_key"]
