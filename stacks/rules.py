"""What a valid setting looks like: checks shared by the app config and the `EncordAccess` props.

Each ``*_problem`` function returns why a value is unusable and what to write instead, or
None when it is fine. The app config (`stacks.config`) prefixes the answer with the setting's
path in ``cdk.json``, the construct (`stacks.encord_access`) with the prop's name, so both
say the same thing about the same mistake. No aws-cdk-lib here: the config imports it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Final

#: Where a user finds the two values only Encord can give.
WHERE_TO_FIND: Final = (
    "copy it from Encord: Integrations > New integration > AWS S3, "
    "where Encord shows its AWS principal and the external ID"
)

MIN_SESSION_HOURS: Final = 1
MAX_SESSION_HOURS: Final = 12
"""IAM's range for a role's maximum session duration."""
MAX_CORS_MAX_AGE_SECONDS: Final = 86_400
"""A day: browsers cap preflight caching lower anyway."""
MAX_PREFIX_BYTES: Final = 1024
"""An S3 key is at most 1024 bytes of UTF-8, so a longer prefix matches nothing."""
MIN_EXTERNAL_ID_CHARS: Final = 8
"""Our floor for an external ID. AWS accepts 2 characters; Encord's are much longer, so a
shorter value is a fragment or a made-up stand-in, not the one Encord shows."""
MAX_EXTERNAL_ID_CHARS: Final = 1224
"""AWS's limit for ``sts:ExternalId``."""
#: The external ID of the sample `cdk.json`: it must be replaced before anything is built.
PLACEHOLDER_EXTERNAL_ID: Final = "replace-with-the-external-id-encord-shows-you"

_ACCOUNT = r"\d{12}"
_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b)?"
ACCOUNT_ID = re.compile(rf"^{_ACCOUNT}$")
PRINCIPAL_ARN = re.compile(
    rf"^arn:{_PARTITION}:(?:iam::{_ACCOUNT}:(?:root|(?:role|user)/[\w+=,.@/-]+)"
    rf"|sts::{_ACCOUNT}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)$"
)
KMS_KEY_ARN = re.compile(
    rf"^arn:{_PARTITION}:kms:[a-z0-9-]+:{_ACCOUNT}:key/"
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)
MRAP_ARN = re.compile(rf"^arn:{_PARTITION}:s3::({_ACCOUNT}):accesspoint/([a-z0-9]+\.mrap)$")
POLICY_ARN = re.compile(rf"^arn:{_PARTITION}:iam::(?:{_ACCOUNT}|aws):policy/[\w+=,.@/-]+$")
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
#: Unanchored patterns, also the launch-stack template's parameter constraints
#: (`stacks.template_parameters`), so the two accept the same shapes.
EXTERNAL_ID_CHARS: Final = r"[\w+=,.@:/-]+"
BUCKET_NAME_SHAPE: Final = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
HOST_LABELS: Final = (
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_EXTERNAL_ID = re.compile(rf"^{EXTERNAL_ID_CHARS}$")
_BUCKET = re.compile(rf"^{BUCKET_NAME_SHAPE}$")
_HOST = re.compile(rf"^(?=.{{1,253}}$){HOST_LABELS}$")

#: What to write instead of an empty write prefix.
WRITE_PREFIX_HINT: Final = (
    "Encord writes under one dedicated prefix such as 'encord-videos/'; leave the write "
    "prefix out for no write access"
)
MRAP_ARN_EXAMPLE: Final = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
ROLE_NAME_RULE: Final = "1-64 characters: letters, digits and + = , . @ _ -"


def show(value: object) -> str:
    """`value` as a problem message quotes it: JSON (a string in quotes), at most 80 characters."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def principal_problem(principal: str) -> str | None:
    """Why `principal` (an account ID or IAM ARN) cannot be trusted, or None."""
    if "*" in principal:
        return f"would let anyone assume the role; use Encord's exact principal ({WHERE_TO_FIND})"
    if ACCOUNT_ID.match(principal) or PRINCIPAL_ARN.match(principal):
        return None
    return (
        "is neither a 12-digit AWS account ID nor an IAM ARN "
        "(arn:aws:iam::123456789012:root, ...:role/NAME or ...:user/NAME)"
    )


def external_id_problem(external_id: str) -> str | None:
    """Why `external_id` cannot protect the role, or None."""
    if not external_id.strip():
        return (
            "missing. Without it any AWS customer of Encord could make Encord read your data "
            f"(confused deputy); {WHERE_TO_FIND}"
        )
    if external_id == PLACEHOLDER_EXTERNAL_ID or external_id.startswith("<"):
        return f"that is the sample's placeholder, not your external ID; {WHERE_TO_FIND}"
    if not _EXTERNAL_ID.match(external_id):
        return (
            "an external ID is letters, digits and + = , . @ : / - _ only "
            "(copy it exactly from Encord)"
        )
    if len(external_id) < MIN_EXTERNAL_ID_CHARS:
        return (
            f"only {len(external_id)} characters, but an external ID must have at least "
            f"{MIN_EXTERNAL_ID_CHARS} (Encord's is longer); {WHERE_TO_FIND}"
        )
    if len(external_id) > MAX_EXTERNAL_ID_CHARS:
        return (
            f"{len(external_id)} characters; AWS allows at most {MAX_EXTERNAL_ID_CHARS} "
            "(copy it exactly from Encord)"
        )
    return None


def origin_problem(origin: str) -> str | None:
    """Why `origin` is not an acceptable CORS origin, or None."""
    if "*" in origin:
        return (
            "a wildcard origin lets any website read your media with a signed URL; "
            "list Encord's origins exactly (https://app.encord.com, ...)"
        )
    if not origin.startswith("https://"):
        return "origins must use https:// (Encord's apps do)"
    hostname, _, port = origin.removeprefix("https://").partition(":")
    if not _HOST.match(hostname) or (port and not port.isdigit()) or origin.endswith("/"):
        return (
            "not an origin: write scheme and host only, without a path or trailing slash "
            "(https://app.encord.com)"
        )
    return None


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid general purpose S3 bucket name, or None when it is."""
    if not _BUCKET.match(name):
        return (
            "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "bucket names cannot contain '..', '.-' or '-.'"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return "bucket names cannot look like an IP address"
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(
        ("-s3alias", "--ol-s3", ".mrap", "--x-s3")
    ):
        return "that prefix or suffix is reserved by S3"
    return None


def prefix_problem(prefix: str, *, empty_hint: str) -> str | None:
    """Why `prefix` is not a usable key prefix, or None when it is.

    `empty_hint` says what to do instead of ``""`` (how the caller grants a whole bucket).
    """
    if prefix == "":
        return f"an empty prefix; {empty_hint}"
    if prefix.startswith("/"):
        return "S3 keys do not start with '/'; drop the leading slash"
    if "*" in prefix or "?" in prefix:
        return "wildcards are not allowed; a prefix is literal (everything under it is granted)"
    if any(ord(c) < 32 or ord(c) == 127 for c in prefix):
        return "control characters are not allowed in a prefix"
    if len(prefix.encode("utf-8")) > MAX_PREFIX_BYTES:
        return f"longer than an S3 key ({MAX_PREFIX_BYTES} bytes)"
    if "//" in prefix or "/../" in f"/{prefix}" or "/./" in f"/{prefix}":
        return "'//', '.' or '..' path segments; write the prefix as the keys spell it"
    return None


def parse_mrap_arn(arn: str) -> tuple[str, str] | None:
    """``(account, alias)`` of a Multi-Region Access Point ARN, or None when it is not one."""
    match = MRAP_ARN.match(arn)
    return (match.group(1), match.group(2)) if match else None


def prefix_warning(prefix: str) -> str | None:
    """Why `prefix` may grant more than meant (it does not end in ``/``), or None."""
    if not prefix or prefix.endswith("/"):
        return None
    return (
        f"{prefix!r} does not end in '/', so it also matches keys such as "
        f"'{prefix}-private/...' and '{prefix}.old'; write '{prefix}/' if you mean the folder"
    )


def write_prefix_problem(write_prefix: str, read_prefixes: Iterable[str]) -> str | None:
    """Why Encord writing under `write_prefix` could overwrite the data it reads, or None.

    A write prefix that equals, contains or sits inside a read prefix (``""`` is the whole
    bucket, which contains every prefix) lets Encord replace the source objects.
    """
    for read in sorted(read_prefixes):
        if write_prefix.startswith(read) or read.startswith(write_prefix):
            where = (
                "the whole bucket is readable"
                if not read
                else f"it {_overlap(write_prefix, read)} the read prefix {read!r}"
            )
            return (
                f"{where}, so Encord could overwrite your source data there; give Encord a "
                "prefix of its own outside every read prefix (such as 'encord-videos/')"
                + ("" if read else ", and list the read prefixes instead of the whole bucket")
            )
    return None


def _overlap(write_prefix: str, read: str) -> str:
    if write_prefix == read:
        return "equals"
    return "sits inside" if write_prefix.startswith(read) else "contains"


def key_region_problem(key_region: str, bucket_region: str) -> str | None:
    """Why a KMS key in `key_region` cannot serve a bucket in `bucket_region`, or None."""
    if key_region == bucket_region:
        return None
    return (
        f"the key is in {key_region} but the bucket is in {bucket_region}; S3 only uses a "
        "key of the bucket's own region, so the grant could never work. Give the ARN of the "
        "key (or the multi-Region replica) in the bucket's region"
    )


def mrap_buckets_problem(grants: Mapping[str, tuple[Iterable[str], str | None]]) -> str | None:
    """Why one access point cannot front buckets with these grants, or None.

    `grants` maps each fronted bucket to its read prefixes (``""``: the whole bucket) and
    write prefix. Through an access point a request names no bucket, so a grant on it holds
    for every bucket behind it: prefixes that differ would open one bucket under another's.
    """
    shapes = {
        name: (tuple(sorted(set(prefixes))), write) for name, (prefixes, write) in grants.items()
    }
    if len(set(shapes.values())) <= 1:
        return None
    described = "; ".join(
        f"{name!r}: prefixes {list(p) if p != ('',) else 'the whole bucket'}, write prefix {w!r}"
        for name, (p, w) in sorted(shapes.items())
    )
    return (
        "the buckets behind one Multi-Region Access Point must have the same prefixes and "
        "write prefix, because a grant through the access point applies to every bucket "
        f"behind it ({described}); give them the same prefixes, or leave the access point out"
    )
