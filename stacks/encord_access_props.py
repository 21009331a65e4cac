"""The props records of `EncordAccess`, and the checks its constructor runs before building.

`check_props` looks at every prop and returns every problem, each with the value received and
what to change; `EncordAccess` raises them together as one `EncordAccessPropsError`. Values
that are unresolved tokens (a `CfnParameter`, an attribute of another resource) are only known
at deploy time and are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Annotations, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from registration.contract import MAX_CORS_RULE_ID_CHARS
from stacks import rules

#: The ID of the synth warning about a prefix that does not end in ``/``.
PREFIX_WARNING_ID: Final = "encord:prefix-without-slash"


@dataclass(frozen=True)
class EncordBucket:
    """A bucket Encord may read, and what else it may do there.

    :param bucket: the bucket: a `s3.Bucket` of your app, or one imported with
        ``s3.Bucket.from_bucket_attributes(self, id, bucket_name=..., region=...)`` (give
        `region` when it is not the stack's: URLs and ``kms:ViaService`` use it).
    :param prefixes: key prefixes Encord may read, everything under each (``"images/"``).
        Default: the whole bucket.
    :param key: the KMS key the objects are encrypted with (SSE-KMS); Encord gets
        ``kms:Decrypt`` on it, only through S3 in the bucket's region. Default: the bucket's
        ``encryption_key`` when it has one, otherwise no KMS grant (SSE-S3 needs none).
    :param write_prefix: the one prefix Encord may write under (the videos it builds from
        image sequences). Default: no write access.
    :param manage_cors: put the CORS rule on this bucket. Default: True; pass False when
        the bucket's CORS is managed elsewhere.
    """

    bucket: s3.IBucket
    prefixes: Sequence[str] = ()
    key: kms.IKey | None = None
    write_prefix: str | None = None
    manage_cors: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefixes", tuple(self.prefixes))


@dataclass(frozen=True)
class EncordMultiRegionAccessPoint:
    """A Multi-Region Access Point in front of some of the `EncordAccess` buckets.

    :param arn: its ARN, ``arn:aws:s3::ACCOUNT:accesspoint/ALIAS.mrap``.
    :param buckets: the buckets it fronts; each must also be one of the construct's
        `buckets`, whose prefixes decide what is granted through the access point.
    """

    arn: str
    buckets: Sequence[s3.IBucket]

    def __post_init__(self) -> None:
        object.__setattr__(self, "buckets", tuple(self.buckets))


@dataclass(frozen=True)
class PropProblem:
    """One unusable prop value: where, what was received, and what to change."""

    prop: str
    received: str
    fix: str

    def __str__(self) -> str:
        return f"{self.prop}: received {self.received}; {self.fix}"


class EncordAccessPropsError(ValueError):
    """The props of an `EncordAccess` construct are unusable; `problems` lists every one."""

    def __init__(self, path: str, problems: Sequence[PropProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"EncordAccess {path}: {count} invalid prop{'s' if count != 1 else ''}:\n{lines}"
        )


def known_bucket_name(bucket: s3.IBucket) -> str | None:
    """The bucket's name when the app spells it (imported by name, or created with a name)."""
    if not Token.is_unresolved(bucket.bucket_name):
        return bucket.bucket_name
    resource = bucket.node.default_child
    name = resource.bucket_name if isinstance(resource, s3.CfnBucket) else None
    return name if isinstance(name, str) and not Token.is_unresolved(name) else None


def _literal(value: str | None) -> bool:
    return value is not None and not Token.is_unresolved(value)


def _principal_problems(
    scope: Construct, principals: Sequence[iam.IPrincipal]
) -> list[PropProblem]:
    if not principals:
        return [
            PropProblem(
                "trusted_principals",
                "[]",
                f"pass Encord's principal as iam.AccountPrincipal or iam.ArnPrincipal; "
                f"{rules.WHERE_TO_FIND}",
            )
        ]
    problems = []
    for i, principal in enumerate(principals):
        fragment = Stack.of(scope).resolve(principal.policy_fragment.principal_json)
        shown = f"{type(principal).__name__} {rules.show(fragment)}"
        values = [str(v) for vs in fragment.values() for v in vs]
        if any("*" in v for v in values):
            problems.append(
                PropProblem(
                    f"trusted_principals[{i}]",
                    shown,
                    "that lets anyone assume the role; trust Encord's exact principal "
                    f"({rules.WHERE_TO_FIND})",
                )
            )
        elif set(fragment) != {"AWS"}:
            problems.append(
                PropProblem(
                    f"trusted_principals[{i}]",
                    shown,
                    "Encord assumes the role from its AWS account: pass iam.AccountPrincipal "
                    "or iam.ArnPrincipal",
                )
            )
    return problems


def _bucket_problems(buckets: Sequence[EncordBucket]) -> list[PropProblem]:
    if not buckets:
        return [PropProblem("buckets", "[]", "pass at least one EncordBucket(bucket=...)")]
    problems = []
    seen: set[str] = set()
    for i, entry in enumerate(buckets):
        where = f"buckets[{i}]"
        label = known_bucket_name(entry.bucket) or entry.bucket.node.path
        if entry.bucket.node.path in seen:
            problems.append(
                PropProblem(
                    f"{where}.bucket", repr(label), "listed twice; merge its prefixes into one"
                )
            )
        seen.add(entry.bucket.node.path)
        for j, prefix in enumerate(entry.prefixes):
            why = (
                rules.prefix_problem(
                    prefix, empty_hint="pass no prefixes to grant the whole bucket"
                )
                if _literal(prefix)
                else None
            )
            if why:
                problems.append(PropProblem(f"{where}.prefixes[{j}]", repr(prefix), why))
        if _literal(entry.write_prefix) and all(_literal(p) for p in entry.prefixes):
            assert entry.write_prefix is not None
            why = rules.prefix_problem(
                entry.write_prefix, empty_hint=rules.WRITE_PREFIX_HINT
            ) or rules.write_prefix_problem(entry.write_prefix, entry.prefixes or ("",))
            if why:
                problems.append(PropProblem(f"{where}.write_prefix", repr(entry.write_prefix), why))
        key = entry.key or entry.bucket.encryption_key
        if key is not None and _literal(key.env.region) and _literal(entry.bucket.env.region):
            why = rules.key_region_problem(key.env.region, entry.bucket.env.region)
            if why:
                problems.append(PropProblem(f"{where}.key", key.key_arn, why))
        if entry.key is not None and hasattr(entry.key, "alias_name"):
            problems.append(
                PropProblem(
                    f"{where}.key",
                    f"the alias {entry.key.alias_name}",
                    "pass the key itself (kms.Key.from_key_arn): an alias cannot be granted "
                    "kms:Decrypt, and the AWS-managed aws/s3 key cannot be used cross-account",
                )
            )
    return problems


def _warn_about_prefixes(scope: Construct, buckets: Sequence[EncordBucket]) -> None:
    """A synth warning for each read or write prefix that does not end in ``/``."""
    for i, entry in enumerate(buckets):
        label = known_bucket_name(entry.bucket) or entry.bucket.node.path
        named = [(f"prefixes[{j}]", p) for j, p in enumerate(entry.prefixes)]
        for prop, prefix in [*named, ("write_prefix", entry.write_prefix or "")]:
            why = rules.prefix_warning(prefix) if _literal(prefix) else None
            if why:
                Annotations.of(scope).add_warning_v2(
                    PREFIX_WARNING_ID, f"buckets[{i}] ({label}).{prop}: {why}"
                )


def _mrap_problems(
    mraps: Sequence[EncordMultiRegionAccessPoint], buckets: Sequence[EncordBucket]
) -> list[PropProblem]:
    problems = []
    granted = {b.bucket.node.path for b in buckets}
    for i, mrap in enumerate(mraps):
        where = f"multi_region_access_points[{i}]"
        if rules.parse_mrap_arn(mrap.arn) is None:  # a token too: the alias is needed now
            problems.append(
                PropProblem(
                    f"{where}.arn",
                    rules.show(mrap.arn),
                    f"pass a Multi-Region Access Point ARN such as {rules.MRAP_ARN_EXAMPLE}",
                )
            )
        if not mrap.buckets:
            problems.append(
                PropProblem(f"{where}.buckets", "[]", "pass the buckets the access point fronts")
            )
        behind = {b.node.path for b in mrap.buckets}
        fronted = {
            (known_bucket_name(e.bucket) or e.bucket.node.path): (
                e.prefixes or ("",),
                e.write_prefix,
            )
            for e in buckets
            if e.bucket.node.path in behind
        }
        why = rules.mrap_buckets_problem(fronted)
        if why:
            problems.append(PropProblem(f"{where}.buckets", f"{len(fronted)} buckets", why))
        for j, bucket in enumerate(mrap.buckets):
            if bucket.node.path not in granted:
                problems.append(
                    PropProblem(
                        f"{where}.buckets[{j}]",
                        repr(known_bucket_name(bucket) or bucket.node.path),
                        "not one of `buckets`; add an EncordBucket for it too (its prefixes "
                        "decide what is granted through the access point)",
                    )
                )
    return problems


def _duration_problem(
    prop: str, duration: Duration, low: int, high: int, expected: str
) -> PropProblem | None:
    """A problem when `duration` is not `low` to `high` whole seconds (None for a token)."""
    seconds = duration.to_seconds(integral=False)
    if Token.is_unresolved(seconds):
        return None
    if low <= seconds <= high and seconds == int(seconds):
        return None
    return PropProblem(prop, duration.to_human_string(), f"pass {expected}")


def check_props(
    scope: Construct,
    *,
    trusted_principals: Sequence[iam.IPrincipal],
    external_id: str,
    buckets: Sequence[EncordBucket],
    cors_origins: Sequence[str],
    cors_max_age: Duration,
    multi_region_access_points: Sequence[EncordMultiRegionAccessPoint],
    max_session_duration: Duration,
    role_name: str | None,
    cors_rule_id: str | None,
) -> list[PropProblem]:
    """Every problem with the props of the `EncordAccess` in `scope` (empty when none).

    A prefix that does not end in ``/`` is not a problem but a warning, added to `scope`.
    """
    _warn_about_prefixes(scope, buckets)
    problems = _principal_problems(scope, trusted_principals)
    if _literal(external_id):
        why = rules.external_id_problem(external_id)
        if why:
            problems.append(PropProblem("external_id", repr(external_id), why))
    problems += _bucket_problems(buckets)
    if not cors_origins:
        problems.append(
            PropProblem(
                "cors_origins", "[]", "pass Encord's origins, or leave the prop out for the default"
            )
        )
    for i, origin in enumerate(cors_origins):
        why = rules.origin_problem(origin) if _literal(origin) else None
        if why:
            problems.append(PropProblem(f"cors_origins[{i}]", repr(origin), why))
    for problem in (
        _duration_problem(
            "cors_max_age",
            cors_max_age,
            0,
            rules.MAX_CORS_MAX_AGE_SECONDS,
            "0 seconds to 1 day (how long browsers may cache a preflight answer), in whole seconds",
        ),
        _duration_problem(
            "max_session_duration",
            max_session_duration,
            rules.MIN_SESSION_HOURS * 3600,
            rules.MAX_SESSION_HOURS * 3600,
            f"{rules.MIN_SESSION_HOURS} to {rules.MAX_SESSION_HOURS} hours, in whole seconds "
            "(URLs signed with a role session stop working when the session ends)",
        ),
    ):
        if problem:
            problems.append(problem)
    problems += _mrap_problems(multi_region_access_points, buckets)
    if _literal(role_name) and not rules.ROLE_NAME.match(str(role_name)):
        problems.append(
            PropProblem("role_name", repr(role_name), f"{rules.ROLE_NAME_RULE}; or leave it out")
        )
    if cors_rule_id is not None and not 0 < len(cors_rule_id) <= MAX_CORS_RULE_ID_CHARS:
        problems.append(
            PropProblem(
                "cors_rule_id",
                rules.show(cors_rule_id),
                f"1 to {MAX_CORS_RULE_ID_CHARS} characters, or leave it out for the default",
            )
        )
    return problems
