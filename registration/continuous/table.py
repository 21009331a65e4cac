"""The continuous-registration table: one DynamoDB table, its key layout and attribute names.

One table (partition key ``pk``, sort key ``sk``, both strings) holds every record; the sparse
index ``LISTING_INDEX`` (partition ``listing``, sort ``at``) lists the records the status
command shows. Records:

=============================  ==========================  =====================================
pk                             sk                          what
=============================  ==========================  =====================================
``obj#<bucket>#<key>``         ``obj``                     one object of a single-file item:
                                                           ``state`` claimed (``owner``,
                                                           ``lease_until``) | registered
                                                           (``job``, ``item``) | skipped |
                                                           failed (``reason``), ``etag``,
                                                           ``size``, ``storage_class``
``obj#<bucket>#<data key>``    ``sidecar#<sidecar key>``   a sidecar waiting for its object
``grp#<bucket>#<folder>``      ``grp``                     a group: ``state`` open | registering
                                                           | registered, ``kind``, ``first_seen``,
                                                           ``last_seen``, ``members``, ``job``,
                                                           ``item``; ``listing`` = ``group`` while
                                                           not registered
``grp#<bucket>#<folder>``      ``m#<key>``                 one member: ``size``, ``etag``,
                                                           ``storage_class``
``late#<bucket>#<key>``        ``late``                    a file that arrived after its group
                                                           was registered; ``listing`` = ``late``
``err#<message id>``           ``err``                     the last error of a message;
                                                           ``listing`` = ``error``, ``ttl``
``run#<owner>``                ``job#<job>#<n>``           the objects one invocation sent in an
                                                           Encord job: ``job``, ``keys`` (their
                                                           ``obj`` partition keys), ``ttl``
=============================  ==========================  =====================================

An object's claim names its invocation (``owner``); the ``run#`` pages of that invocation say
which job holds the object, so that the job UUID is written once per job (a few pages), not
once per object (`claims`).

One more record, for the handler alone: ``cfg#folder`` / the folder's path holds the UUID of
the Encord folder once one invocation created it (`FOLDER_PK`). The attribute names of every
record are the constants below.

``at`` is an ISO-8601 UTC time (with the record's id after it, so it is unique); ``ttl`` is
epoch seconds (the table's time-to-live attribute). Keys are S3 keys as stored (not encoded):
DynamoDB keys take 2,048 bytes, S3 keys at most 1,024.
"""

from __future__ import annotations

from typing import Final

PARTITION_KEY: Final = "pk"
SORT_KEY: Final = "sk"
LISTING_INDEX: Final = "listing"
"""The sparse index of what `encord-register continuous status` lists."""
LISTING: Final = "listing"
"""Partition key of `LISTING_INDEX`: `LISTING_GROUP`, `LISTING_LATE` or `LISTING_ERROR`."""
AT: Final = "at"
"""Sort key of `LISTING_INDEX`: ISO-8601 UTC time, then ``#`` and the record's id."""
TTL: Final = "ttl"
"""The table's time-to-live attribute (epoch seconds)."""

LISTING_GROUP: Final = "group"
LISTING_LATE: Final = "late"
LISTING_ERROR: Final = "error"

OBJECT_SK: Final = "obj"
GROUP_SK: Final = "grp"
MEMBER_SK_PREFIX: Final = "m#"
SIDECAR_SK_PREFIX: Final = "sidecar#"
LATE_SK: Final = "late"
ERROR_SK: Final = "err"
RUN_JOB_SK_PREFIX: Final = "job#"

STATE: Final = "state"
# object states
CLAIMED: Final = "claimed"
REGISTERED: Final = "registered"
SKIPPED: Final = "skipped"
FAILED: Final = "failed"
# group states (and REGISTERED)
OPEN: Final = "open"
REGISTERING: Final = "registering"

# Attribute names of the records (besides the keys, STATE, LISTING, AT and TTL). Times are
# epoch seconds (numbers) unless the name ends in `_at` (ISO-8601 UTC text).
BUCKET: Final = "bucket"
KEY: Final = "key"
FOLDER: Final = "folder"
SIZE: Final = "size"
ETAG: Final = "etag"
STORAGE_CLASS: Final = "storage_class"
ACCESS_TIER: Final = "access_tier"
RESTORED: Final = "restored"
OWNER: Final = "owner"
"""The invocation holding a claim (or a registering group)."""
LEASE_UNTIL: Final = "lease_until"
"""Until when (epoch seconds) `OWNER` holds it; past that another invocation may take over."""
JOB: Final = "job"
"""The Encord job holding the object or group (stored before the job is polled)."""
LOST_JOB: Final = "lost_job"
"""On a claim: a job Encord no longer knew (a takeover does not poll it again)."""
BASELINE: Final = "baseline"
"""Item UUIDs that held the unit's URLs before it was sent again after a lost answer; while
present, duplicates a lost job may have made are looked for once the last job is final."""
ITEM: Final = "item"
"""The Encord item UUID (absent when Encord's answer does not say which item it is)."""
DUPLICATE: Final = "duplicate"
"""True when Encord already held the URL(s): `skip_duplicate_urls` made no new item (an
object's record leaves it out otherwise)."""
REASON: Final = "reason"
DETAIL: Final = "detail"
HAS_SIDECAR: Final = "has_sidecar"
"""On ``obj``: a ``sidecar#`` record waits in this partition (a stub without `STATE` when the
object itself has not arrived)."""
SIDECAR: Final = "sidecar"
SIDECAR_ETAG: Final = "sidecar_etag"
"""On ``obj``: the sidecar whose metadata the item was registered (or updated) with."""
DATA_KEY: Final = "data_key"
"""On ``sidecar#``: the key of the object the sidecar belongs to."""
KIND: Final = "kind"
FIRST_SEEN: Final = "first_seen"
LAST_SEEN: Final = "last_seen"
MEMBERS: Final = "members"
"""On ``grp``: member events added (a re-uploaded member counts again)."""
MARKER: Final = "marker"
"""On ``grp``: True once the group's marker object landed."""
CHECK_DUE: Final = "check_due"
CHECK_MESSAGE: Final = "check_message"
"""On ``grp``: when the pending group check is due, and what scheduled it."""
FROZEN_AT: Final = "frozen_at"
"""On ``grp``: when the member list was frozen (open -> registering)."""
ARRIVED: Final = "arrived"
"""On ``m#`` and ``late``: when the file's event was handled."""
GROUP_STATE: Final = "group_state"
"""On ``late``: the group's state when the file arrived (registering or registered)."""
UPDATED_AT: Final = "updated_at"
"""On ``obj`` and ``grp``: the time of the last change (ISO-8601 UTC)."""
MESSAGE_ID: Final = "message_id"
RECEIVE_COUNT: Final = "receive_count"
SOURCE: Final = "source"
ERROR_KIND: Final = "error_kind"
"""On ``err``: `ERROR_POISON` (never retried usefully), `ERROR_TRANSIENT` or `ERROR_BUSY`."""
ERROR_POISON: Final = "poison"
ERROR_TRANSIENT: Final = "transient"
ERROR_BUSY: Final = "busy"
"""Another invocation holds the object or group: the message is looked at again later."""
OBJECTS: Final = "objects"
"""On ``err``: the first keys of the message (bucket/key), for `status`."""
FOLDER_PK: Final = "cfg#folder"
"""Partition of the Encord folder records (sort key: the folder's path as configured): the
folder is created by one invocation only, and every container uses its UUID."""
FOLDER_UUID: Final = "folder_uuid"
KEYS: Final = "keys"
"""On a ``run#`` page: the ``obj`` partition keys of the objects the page's job holds."""

ERROR_TTL_SECONDS: Final = 14 * 24 * 3600
"""How long a message's last error is kept (SQS keeps a dead-letter message 14 days at most)."""


RUN_TTL_SECONDS: Final = ERROR_TTL_SECONDS
"""How long a run's job pages are kept: a claim is looked at again while its message lives
(the dead-letter queue keeps it 14 days at most); a claim found later without its page is of
unknown fate, which is safe (`duplicates`), only slower."""
RUN_PAGE_BYTES: Final = 300_000
"""Bytes of partition keys on one ``run#`` page at most (DynamoDB takes 400 KB an item)."""


def object_pk(bucket: str, key: str) -> str:
    """The partition key of an object (and of the sidecars waiting for it)."""
    return f"obj#{bucket}#{key}"


def group_pk(bucket: str, folder: str) -> str:
    """The partition key of a group and its members."""
    return f"grp#{bucket}#{folder}"


def late_pk(bucket: str, key: str) -> str:
    """The partition key of a late arrival."""
    return f"late#{bucket}#{key}"


def error_pk(message_id: str) -> str:
    """The partition key of a message's last error."""
    return f"err#{message_id}"


def run_pk(owner: str) -> str:
    """The partition key of an invocation's job pages."""
    return f"run#{owner}"


def run_job_sk(job: str, page: int) -> str:
    """The sort key of page `page` of the objects of `job`."""
    return f"{RUN_JOB_SK_PREFIX}{job}#{page}"


def split_pk(pk: str) -> tuple[str, str, str]:
    """``(kind, bucket, rest)`` of an object, group or late partition key."""
    kind, bucket, rest = pk.split("#", 2)
    return kind, bucket, rest


def member_sk(key: str) -> str:
    """The sort key of a group member."""
    return f"{MEMBER_SK_PREFIX}{key}"


def sidecar_sk(key: str) -> str:
    """The sort key of a sidecar waiting in its object's partition."""
    return f"{SIDECAR_SK_PREFIX}{key}"


def listing_at(moment_iso: str, record_id: str) -> str:
    """The `AT` value of a listed record: its time, then ``#`` and its id (unique)."""
    return f"{moment_iso}#{record_id}"
