"""The Encord folder, created once for every container of the function.

`register` runs alone; the handler runs in many containers at once, and on a first deployment
all of them find the folder missing. Encord allows two folders of one name, so creating it in
each would split the items between folders. So the first container to take the folder record
(``cfg#folder``, a conditional write with a lease) resolves or creates the folder and writes its
UUID there; the others wait for the UUID and open the folder by it. A UUID whose folder was
deleted in Encord is forgotten, and the folder is made again the same way.
"""

from __future__ import annotations

import time
import uuid
from typing import Final

from registration.continuous import table as t
from registration.continuous.clock import Clock
from registration.continuous.dynamo import StateTable, Update
from registration.encord.client import EncordSession, FolderRef
from registration.errors import RemoteError, UsageError

FOLDER_LEASE_SECONDS: Final = 120
"""How long a container may take to create the folder before another tries."""
FOLDER_WAIT_SECONDS: Final = 150
"""How long a container waits for another to record the folder (beyond one lease)."""
FOLDER_POLL_SECONDS: Final = 0.5
DESCRIPTION: Final = "Registered by encord-register continuous registration"


class SharedFolder:
    """Resolves the configured folder through the state table (see the module docstring)."""

    def __init__(self, table: StateTable, clock: Clock, path: str) -> None:
        self.table = table
        self.clock = clock
        self.path = path
        self.owner = uuid.uuid4().hex

    def resolve(self, session: EncordSession) -> FolderRef:
        """The folder, created by exactly one container when it does not exist."""
        waited_until = time.monotonic() + FOLDER_WAIT_SECONDS
        while time.monotonic() < waited_until:
            record = self.table.get(t.FOLDER_PK, self.path) or {}
            recorded = record.get(t.FOLDER_UUID)
            if recorded:
                try:
                    return session.resolve_folder(str(recorded), create=False)
                except UsageError:  # deleted in Encord since: make it again
                    self.table.delete(t.FOLDER_PK, self.path)
                    continue
            if self._take(record):
                folder = session.resolve_folder(self.path, description=DESCRIPTION)
                self.table.update(
                    Update(t.FOLDER_PK, self.path, sets={t.FOLDER_UUID: str(folder.uuid)})
                )
                return folder
            time.sleep(FOLDER_POLL_SECONDS)
        raise RemoteError(
            f"waited {FOLDER_WAIT_SECONDS} s for another invocation to create the Encord folder "
            f"{self.path!r}; the next invocation tries again"
        )

    def _take(self, record: dict[str, object]) -> bool:
        now = self.clock.now()
        lease = record.get(t.LEASE_UNTIL)
        if record and isinstance(lease, int | float) and lease >= now:
            return False
        written = self.table.update(
            Update(
                t.FOLDER_PK,
                self.path,
                sets={t.OWNER: self.owner, t.LEASE_UNTIL: now + FOLDER_LEASE_SECONDS},
                condition="attribute_not_exists(#folder_uuid) AND "
                "(attribute_not_exists(#lease_until) OR #lease_until < :now)",
                values={":now": now},
            )
        )
        return written.ok
