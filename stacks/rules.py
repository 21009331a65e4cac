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
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)

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
    if not _EXTERNAL_ID.match(external_id):
        return (
            "an external ID is 2-1224 characters of letters, digits and + = , . @ : / - _ "
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
