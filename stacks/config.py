"""The access stack's configuration: the `encord` object of `cdk.json`, typed and validated.

This module does not import aws-cdk-lib, so its rules are tested quickly and the same
checks can run before any synthesis. `load_config` collects *every* problem and raises one
`ConfigError` listing them, each saying what was received and what to change.

Settings (camelCase, as written in `cdk.json`):

- ``trustedPrincipals``: Encord's AWS principal(s), account IDs or IAM ARNs, copied from
  Encord's *New integration* dialog. Several are allowed so a principal can be rotated.
- ``externalId``: the external ID from the same dialog. Always required.
- ``buckets``: ``[{name, create?, prefixes?, kmsKeyArn?, writePrefix?, region?}]``.
- ``corsOrigins`` (default Encord's EU and US apps), ``corsMaxAgeSeconds`` (default 3600).
- ``allowListing`` (default false): ``s3:ListBucket`` for Encord cloud-synced folders.
- ``multiRegionAccessPoints``: ``[{arn, buckets}]``.
- ``maxSessionDurationHours`` (1-12, default 1), ``roleName``, ``permissionsBoundaryArn``,
  ``tags``, ``stackName``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Encord's web apps (EU and US), the origins that fetch media in the browser.
#: Decision (aws-access.md): configurable, never ``*``.
DEFAULT_CORS_ORIGINS: tuple[str, ...] = ("https://app.encord.com", "https://app.us.encord.com")
DEFAULT_CORS_MAX_AGE_SECONDS = 3600
DEFAULT_MAX_SESSION_HOURS = 1
MAX_SESSION_HOURS = 12
DEFAULT_STACK_NAME = "EncordAccess"

#: Where a user finds the two values only Encord can give.
WHERE_TO_FIND = (
    "copy it from Encord: Integrations > New integration > AWS S3, "
    "where Encord shows its AWS principal and the external ID"
)

#: AWS's documentation example account: the sample `cdk.json` uses it as a placeholder.
PLACEHOLDER_ACCOUNT = "111122223333"

_ACCOUNT = r"\d{12}"
_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b)?"
_PRINCIPAL_ARN = re.compile(
    rf"^arn:{_PARTITION}:(?:iam::{_ACCOUNT}:(?:root|(?:role|user)/[\w+=,.@/-]+)"
    rf"|sts::{_ACCOUNT}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)$"
)
_KMS_KEY_ARN = re.compile(
    rf"^arn:{_PARTITION}:kms:[a-z0-9-]+:{_ACCOUNT}:key/"
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)
_MRAP_ARN = re.compile(rf"^arn:{_PARTITION}:s3::({_ACCOUNT}):accesspoint/([a-z0-9]+\.mrap)$")
_POLICY_ARN = re.compile(rf"^arn:{_PARTITION}:iam::(?:{_ACCOUNT}|aws):policy/[\w+=,.@/-]+$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_MAX_PREFIX_BYTES = 1024

_KNOWN_KEYS = frozenset(
    {
        "stackName",
        "trustedPrincipals",
        "externalId",
        "buckets",
        "corsOrigins",
        "corsMaxAgeSeconds",
        "allowListing",
        "multiRegionAccessPoints",
        "maxSessionDurationHours",
        "roleName",
        "permissionsBoundaryArn",
        "tags",
    }
)
_BUCKET_KEYS = frozenset({"name", "create", "prefixes", "kmsKeyArn", "writePrefix", "region"})
_MRAP_KEYS = frozenset({"arn", "buckets"})


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid `encord` configuration ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n{lines}\n"
            "Edit the `encord` object in cdk.json (or the `-c encord...` values you passed) "
            "and run again. The README's 'The access stack' section describes every setting."
        )


@dataclass(frozen=True)
class BucketConfig:
    """One data bucket Encord may read."""

    name: str
    create: bool = False
    #: Key prefixes Encord may read; ``("",)`` is the whole bucket.
    prefixes: tuple[str, ...] = ("",)
    kms_key_arn: str | None = None
    write_prefix: str | None = None
    #: None: the stack's region.
    region: str | None = None


@dataclass(frozen=True)
class MrapConfig:
    """A Multi-Region Access Point in front of some of the configured buckets."""

    arn: str
    buckets: tuple[str, ...]

    @property
    def account(self) -> str:
        """The account that owns the access point."""
        match = _MRAP_ARN.match(self.arn)
        assert match is not None  # validated on construction by `load_config`
        return match.group(1)

    @property
    def alias(self) -> str:
        """The access point's alias (``xxxx.mrap``), as used in URLs."""
        return self.arn.rsplit("/", 1)[1]


@dataclass(frozen=True)
class AccessConfig:
    """The validated configuration of one access stack."""

    trusted_principals: tuple[str, ...]
    external_id: str
    buckets: tuple[BucketConfig, ...]
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    cors_max_age_seconds: int = DEFAULT_CORS_MAX_AGE_SECONDS
    allow_listing: bool = False
    mraps: tuple[MrapConfig, ...] = ()
    max_session_hours: int = DEFAULT_MAX_SESSION_HOURS
    role_name: str | None = None
    permissions_boundary_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    stack_name: str = DEFAULT_STACK_NAME

    @property
    def uses_placeholder_principal(self) -> bool:
        """True while the sample configuration's placeholder account is still trusted."""
        return any(PLACEHOLDER_ACCOUNT in p for p in self.trusted_principals)


def merge_context(base: Any, overrides: Mapping[str, Any]) -> Any:
    """Apply `-c` overrides to the `encord` context object.

    ``-c encord='{...}'`` replaces the whole object (the CLI passes it as a string);
    ``-c encord.externalId=VALUE`` replaces one setting (VALUE is parsed as JSON when it is
    JSON, so lists and booleans work, and is a string otherwise).
    """
    merged = _parse_json_string(base)
    for key, raw in overrides.items():
        if not key.startswith("encord."):
            continue
        if not isinstance(merged, dict):
            merged = {}
        merged = {**merged, key.removeprefix("encord."): _parse_json_string(raw)}
    return merged


def _parse_json_string(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_config(raw: Any) -> AccessConfig:
    """Validate the `encord` context object; raise `ConfigError` listing every problem."""
    problems: list[str] = []
    if raw is None:
        raise ConfigError(
            [
                "encord: missing. Add an `encord` object to the `context` of cdk.json "
                "(the sample in this repository shows every setting)"
            ]
        )
    if not isinstance(raw, dict):
        raise ConfigError([f"encord: expected a JSON object, received {_show(raw)}"])
    for key in sorted(set(raw) - _KNOWN_KEYS):
        problems.append(
            f"encord.{key}: unknown setting. Known settings: {', '.join(sorted(_KNOWN_KEYS))}"
        )

    principals = _principals(raw.get("trustedPrincipals"), problems)
    external_id = _external_id(raw.get("externalId"), problems)
    buckets = _buckets(raw.get("buckets"), problems)
    origins = _origins(raw.get("corsOrigins", list(DEFAULT_CORS_ORIGINS)), problems)
    max_age = _int_in_range(
        raw.get("corsMaxAgeSeconds", DEFAULT_CORS_MAX_AGE_SECONDS),
        "encord.corsMaxAgeSeconds",
        0,
        86_400,
        "seconds browsers may cache the preflight answer",
        problems,
    )
    allow_listing = _bool(raw.get("allowListing", False), "encord.allowListing", problems)
    mraps = _mraps(raw.get("multiRegionAccessPoints", []), {b.name for b in buckets}, problems)
    hours = _int_in_range(
        raw.get("maxSessionDurationHours", DEFAULT_MAX_SESSION_HOURS),
        "encord.maxSessionDurationHours",
        1,
        MAX_SESSION_HOURS,
        "hours; signed URLs made from a role session stop working when the session ends",
        problems,
    )
    role_name = _optional_pattern(
        raw.get("roleName"),
        "encord.roleName",
        _ROLE_NAME,
        "1-64 characters: letters, digits and + = , . @ _ -; or leave it out for a generated name",
        problems,
    )
    boundary = _optional_pattern(
        raw.get("permissionsBoundaryArn"),
        "encord.permissionsBoundaryArn",
        _POLICY_ARN,
        "an IAM managed policy ARN such as arn:aws:iam::123456789012:policy/Boundary",
        problems,
    )
    tags = _tags(raw.get("tags", {}), problems)
    stack_name = raw.get("stackName", DEFAULT_STACK_NAME)
    if not isinstance(stack_name, str) or not re.fullmatch(
        r"[A-Za-z][A-Za-z0-9-]{0,127}", stack_name
    ):
        problems.append(
            f"encord.stackName: received {_show(stack_name)}; use letters, digits and hyphens, "
            "starting with a letter (at most 128 characters)"
        )
    if problems:
        raise ConfigError(problems)
    return AccessConfig(
        trusted_principals=principals,
        external_id=external_id,
        buckets=buckets,
        cors_origins=origins,
        cors_max_age_seconds=max_age,
        allow_listing=allow_listing,
        mraps=mraps,
        max_session_hours=hours,
        role_name=role_name,
        permissions_boundary_arn=boundary,
        tags=tags,
        stack_name=stack_name,
    )


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _principals(value: Any, problems: list[str]) -> tuple[str, ...]:
    where = "encord.trustedPrincipals"
    if value is None or value == [] or value == "":
        problems.append(f"{where}: missing. Set it to Encord's AWS principal; {WHERE_TO_FIND}")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.append(
            f"{where}: expected a list of account IDs or IAM ARNs, received {_show(value)}"
        )
        return ()
    result: list[str] = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(item, str):
            problems.append(f"{here}: expected a string, received {_show(item)}")
        elif "*" in item:
            problems.append(
                f"{here}: {item!r} would let anyone assume the role; "
                f"use Encord's exact principal ({WHERE_TO_FIND})"
            )
        elif re.fullmatch(_ACCOUNT, item) or _PRINCIPAL_ARN.match(item):
            if item in result:
                problems.append(f"{here}: {item!r} is listed twice; remove the duplicate")
            result.append(item)
        else:
            problems.append(
                f"{here}: {item!r} is neither a 12-digit AWS account ID nor an IAM ARN "
                "(arn:aws:iam::123456789012:root, ...:role/NAME or ...:user/NAME)"
            )
    return tuple(result)


def _external_id(value: Any, problems: list[str]) -> str:
    where = "encord.externalId"
    if value is None or value == "":
        problems.append(
            f"{where}: missing. Without it any AWS customer of Encord could make Encord read "
            f"your data (confused deputy); {WHERE_TO_FIND}"
        )
        return ""
    if not isinstance(value, str) or not _EXTERNAL_ID.match(value):
        problems.append(
            f"{where}: received {_show(value)}; an external ID is 2-1224 characters of "
            "letters, digits and + = , . @ : / - _ (copy it exactly from Encord)"
        )
        return ""
    return value


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


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` is not a usable key prefix, or None when it is."""
    if prefix == "":
        return "an empty prefix; leave `prefixes` out to grant the whole bucket"
    if prefix.startswith("/"):
        return "S3 keys do not start with '/'; drop the leading slash"
    if "*" in prefix or "?" in prefix:
        return "wildcards are not allowed; a prefix is literal (everything under it is granted)"
    if any(ord(c) < 32 or ord(c) == 127 for c in prefix):
        return "control characters are not allowed in a prefix"
    if len(prefix.encode("utf-8")) > _MAX_PREFIX_BYTES:
        return "longer than an S3 key (1024 bytes)"
    if "//" in prefix or "/../" in f"/{prefix}" or "/./" in f"/{prefix}":
        return "'//', '.' or '..' path segments; write the prefix as the keys spell it"
    return None


def _prefix(value: Any, where: str, problems: list[str]) -> str | None:
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, received {_show(value)}")
        return None
    problem = prefix_problem(value)
    if problem:
        problems.append(f"{where}: {value!r}: {problem}")
        return None
    return value


def _buckets(value: Any, problems: list[str]) -> tuple[BucketConfig, ...]:
    where = "encord.buckets"
    if not value:
        problems.append(
            f"{where}: missing. List the buckets Encord may read, for example "
            '[{"name": "my-data", "prefixes": ["images/"]}]'
        )
        return ()
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list of bucket objects, received {_show(value)}")
        return ()
    result: list[BucketConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            problems.append(
                f"{here}: expected an object with at least `name`, received {_show(item)}"
            )
            continue
        before = len(problems)
        for key in sorted(set(item) - _BUCKET_KEYS):
            problems.append(
                f"{here}.{key}: unknown setting. Known: {', '.join(sorted(_BUCKET_KEYS))}"
            )
        name = item.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{here}.name: missing or not a string (received {_show(name)})")
            name = ""
        else:
            problem = bucket_name_problem(name)
            if problem:
                problems.append(f"{here}.name: {name!r} is not a valid bucket name: {problem}")
            elif name in seen:
                problems.append(
                    f"{here}.name: bucket {name!r} is listed twice; "
                    "merge its prefixes into one entry"
                )
            seen.add(name)
        here = f"{where}[{i}] ({name or '?'})"
        create = _bool(item.get("create", False), f"{here}.create", problems)
        raw_prefixes = item.get("prefixes")
        prefixes: list[str] = []
        if raw_prefixes is None:
            prefixes = [""]
        elif isinstance(raw_prefixes, list) and raw_prefixes:
            for j, raw_prefix in enumerate(raw_prefixes):
                prefix = _prefix(raw_prefix, f"{here}.prefixes[{j}]", problems)
                if prefix is not None and prefix not in prefixes:
                    prefixes.append(prefix)
        else:
            problems.append(
                f'{here}.prefixes: expected a non-empty list of key prefixes such as ["images/"], '
                f"received {_show(raw_prefixes)}; leave it out to grant the whole bucket"
            )
        kms = _optional_pattern(
            item.get("kmsKeyArn"),
            f"{here}.kmsKeyArn",
            _KMS_KEY_ARN,
            "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID); an alias ARN or the "
            "AWS-managed aws/s3 key cannot be granted cross-account",
            problems,
        )
        write_prefix = None
        if item.get("writePrefix") is not None:
            write_prefix = _prefix(item["writePrefix"], f"{here}.writePrefix", problems)
        region = _optional_pattern(
            item.get("region"),
            f"{here}.region",
            _REGION,
            "an AWS region such as eu-west-1",
            problems,
        )
        if create and region is not None:
            problems.append(
                f"{here}.region: a bucket the stack creates lives in the stack's region; remove "
                "`region`, or deploy the stack to that region (CDK_DEFAULT_REGION / --profile)"
            )
        if len(problems) == before:
            result.append(
                BucketConfig(
                    name=name,
                    create=create,
                    prefixes=tuple(sorted(prefixes)),
                    kms_key_arn=kms,
                    write_prefix=write_prefix,
                    region=region,
                )
            )
    return tuple(result)


def _origins(value: Any, problems: list[str]) -> tuple[str, ...]:
    where = "encord.corsOrigins"
    if not isinstance(value, list) or not value:
        problems.append(
            f"{where}: expected a non-empty list of https origins, received {_show(value)}; "
            f"the default is {list(DEFAULT_CORS_ORIGINS)}"
        )
        return ()
    result: list[str] = []
    for i, origin in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(origin, str):
            problems.append(f"{here}: expected a string, received {_show(origin)}")
            continue
        if "*" in origin:
            problems.append(
                f"{here}: {origin!r}: a wildcard origin lets any website read your media with a "
                "signed URL; list Encord's origins exactly (https://app.encord.com, ...)"
            )
            continue
        if not origin.startswith("https://"):
            problems.append(f"{here}: {origin!r}: origins must use https:// (Encord's apps do)")
            continue
        host = origin.removeprefix("https://")
        hostname, _, port = host.partition(":")
        if not _HOST.match(hostname) or (port and not port.isdigit()) or origin.endswith("/"):
            problems.append(
                f"{here}: {origin!r} is not an origin: write scheme and host only, "
                "without a path or trailing slash (https://app.encord.com)"
            )
            continue
        if origin not in result:
            result.append(origin)
    return tuple(result)


def _mraps(value: Any, bucket_names: set[str], problems: list[str]) -> tuple[MrapConfig, ...]:
    where = "encord.multiRegionAccessPoints"
    if not isinstance(value, list):
        problems.append(
            f"{where}: expected a list of {{arn, buckets}} objects, received {_show(value)}"
        )
        return ()
    result: list[MrapConfig] = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{here}: expected an object {{arn, buckets}}, received {_show(item)}")
            continue
        for key in sorted(set(item) - _MRAP_KEYS):
            problems.append(f"{here}.{key}: unknown setting. Known: arn, buckets")
        arn = item.get("arn")
        ok = True
        if not isinstance(arn, str) or not _MRAP_ARN.match(arn):
            problems.append(
                f"{here}.arn: received {_show(arn)}; expected a Multi-Region Access Point ARN "
                "such as arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
            )
            ok = False
        buckets = item.get("buckets")
        if (
            not isinstance(buckets, list)
            or not buckets
            or not all(isinstance(b, str) for b in buckets)
        ):
            problems.append(
                f"{here}.buckets: expected a non-empty list of bucket names, "
                f"received {_show(buckets)}"
            )
            ok = False
        else:
            unknown = [b for b in buckets if b not in bucket_names]
            if unknown:
                problems.append(
                    f"{here}.buckets: {unknown} are not in encord.buckets; list them there too "
                    "(their prefixes decide what is granted through the access point)"
                )
                ok = False
        if ok:
            result.append(MrapConfig(arn=str(arn), buckets=tuple(str(b) for b in buckets or ())))
    return tuple(result)


def _bool(value: Any, where: str, problems: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    problems.append(f"{where}: expected true or false, received {_show(value)}")
    return False


def _int_in_range(
    value: Any, where: str, low: int, high: int, unit: str, problems: list[str]
) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(
            f"{where}: received {_show(value)}; "
            f"expected a whole number from {low} to {high} ({unit})"
        )
        return low
    return value


def _optional_pattern(
    value: Any, where: str, pattern: re.Pattern[str], expected: str, problems: list[str]
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value):
        problems.append(f"{where}: received {_show(value)}; expected {expected}")
        return None
    return value


def _tags(value: Any, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k for k, v in value.items()
    ):
        problems.append(
            f"encord.tags: expected an object of string keys and values, received {_show(value)}"
        )
        return {}
    return dict(value)
