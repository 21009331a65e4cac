"""`EncordAccess`: the construct that gives Encord least-privilege, by-reference access to S3.

Drop it into any CDK stack, with your own buckets and keys::

    images = s3.Bucket(self, "Images", encryption_key=key)
    access = EncordAccess(
        self,
        "EncordAccess",
        trusted_principals=[iam.AccountPrincipal("<Encord's account ID>")],
        external_id="<the external ID Encord shows you>",
        buckets=[EncordBucket(bucket=images, key=key, prefixes=["images/"])],
    )
    CfnOutput(self, "EncordRoleArn", value=access.role.role_arn)

It creates:

- `role`: the role Encord assumes, trusted only by `trusted_principals` and only with
  ``sts:ExternalId`` equal to `external_id`;
- `policy`: a managed policy attached to the role with the statements of `stacks.permissions`
  (read under the prefixes; optionally list, write, KMS and Multi-Region Access Points);
- the CORS rule of `registration.contract.cors_rule` on every bucket (`stacks.bucket_cors`),
  and `cors_handlers`, one function per imported bucket that merges it in;
- `permissions_boundary`, when given, on every role it creates (the CORS handlers' too).

The constructor checks every prop first and raises one `EncordAccessPropsError` listing every
problem. It reads no context and no environment. cdk-nag's findings on what it builds are
acknowledged here, one per ``bucket/prefix*`` resource, each with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Acknowledgment, Aws, Duration, Names, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from registration.contract import (
    DEFAULT_CORS_MAX_AGE_SECONDS,
    DEFAULT_CORS_ORIGINS,
    cors_rule,
)
from registration.contract import cors_rule_id as legacy_rule_id
from stacks.bucket_cors import (
    ImportedBucket,
    add_to_bucket,
    merge_into_imported_buckets,
    owned_rule_id,
)
from stacks.encord_access_props import (
    EncordAccessPropsError,
    EncordBucket,
    EncordMultiRegionAccessPoint,
    PropProblem,
    check_props,
    known_bucket_name,
)
from stacks.functions import FunctionHardening
from stacks.permissions import (
    IAM5_RESOURCE_FINDING,
    BucketGrant,
    MrapGrant,
    access_statements,
    flatten_reference,
    wildcard_resources,
)
from stacks.rules import parse_mrap_arn

__all__ = [
    "DEFAULT_CORS_MAX_AGE",
    "DEFAULT_MAX_SESSION_DURATION",
    "EncordAccess",
    "EncordAccessPropsError",
    "EncordBucket",
    "EncordMultiRegionAccessPoint",
    "PropProblem",
]

DEFAULT_CORS_MAX_AGE: Final = Duration.seconds(DEFAULT_CORS_MAX_AGE_SECONDS)
DEFAULT_MAX_SESSION_DURATION: Final = Duration.hours(1)

_PREFIX_WILDCARD_REASON = (
    "Object ARNs end in `<prefix>*`: Encord must read every object under a configured "
    "prefix (write: under the configured write prefix), and nothing outside them."
)


class EncordAccess(Construct):
    """Role, policy and CORS that let Encord read the given S3 data by reference.

    :param trusted_principals: Encord's AWS principal(s) from its *New integration* dialog
        (`iam.AccountPrincipal` or `iam.ArnPrincipal`). Several may be trusted at once so a
        principal can be rotated without an outage. Required; never ``*``.
    :param external_id: the external ID from the same dialog; the trust requires it.
        Required (a trust without one is a confused-deputy hole).
    :param buckets: the buckets Encord may read, each an `EncordBucket`. Required.
    :param cors_origins: the https origins allowed to fetch media in the browser.
        Default: Encord's EU and US apps (`registration.contract.DEFAULT_CORS_ORIGINS`).
    :param cors_max_age: how long browsers may cache a preflight answer (0 s to 1 day).
        Default: one hour.
    :param allow_listing: grant ``s3:ListBucket`` under the prefixes (and
        ``s3:GetBucketLocation``), which Encord's cloud-synced folders need.
        Default: False, no listing.
    :param multi_region_access_points: access points in front of some of `buckets`; the
        same object actions are granted through them. Default: none.
    :param max_session_duration: how long Encord's role sessions, and so the URLs signed
        with them, last (1 to 12 hours). Default: one hour.
    :param role_name: the role's name. Default: a name CloudFormation generates.
    :param permissions_boundary: a managed policy that bounds every role the construct
        creates (Encord's role and the CORS handlers' roles). Default: no boundary.
    :param cors_rule_id: the ID of the CORS rule this construct owns on every bucket (the
        custom resources merge by it); it must be unique to this construct on those buckets,
        and must change when the construct is renamed. Default: one ID per bucket,
        ``encord-access-<stack name>-<region>-<8 hex digits of the construct path and
        bucket>`` (`stacks.bucket_cors.owned_rule_id`), which is all of that by construction;
        a rule with the ID of earlier versions of this construct is replaced by it.
    :param log_encryption_key: the KMS key that encrypts the CORS handlers' log group; its
        key policy must let CloudWatch Logs use it. Default: none (CloudWatch's own
        encryption).
    :param tracing: X-Ray active tracing of the CORS handlers. Default: False.
    :param reserve_concurrency: reserve one concurrent execution for each CORS handler
        (HIPAA and NIST 800-53 ask for it; it comes out of the account's unreserved
        concurrency). Default: False.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trusted_principals: Sequence[iam.IPrincipal],
        external_id: str,
        buckets: Sequence[EncordBucket],
        cors_origins: Sequence[str] = DEFAULT_CORS_ORIGINS,
        cors_max_age: Duration = DEFAULT_CORS_MAX_AGE,
        allow_listing: bool = False,
        multi_region_access_points: Sequence[EncordMultiRegionAccessPoint] = (),
        max_session_duration: Duration = DEFAULT_MAX_SESSION_DURATION,
        role_name: str | None = None,
        permissions_boundary: iam.IManagedPolicy | None = None,
        cors_rule_id: str | None = None,
        log_encryption_key: kms.IKey | None = None,
        tracing: bool = False,
        reserve_concurrency: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        problems = check_props(
            self,
            trusted_principals=trusted_principals,
            external_id=external_id,
            buckets=buckets,
            cors_origins=cors_origins,
            cors_max_age=cors_max_age,
            multi_region_access_points=multi_region_access_points,
            max_session_duration=max_session_duration,
            role_name=role_name,
            cors_rule_id=cors_rule_id,
        )
        if problems:
            raise EncordAccessPropsError(self.node.path, problems)
        if permissions_boundary is not None:
            # Every role in this construct, the CORS handlers' included, now and later.
            iam.PermissionsBoundary.of(self).apply(permissions_boundary)
        self._explicit_rule_id = cors_rule_id
        self._buckets = tuple(buckets)
        self._role = iam.Role(
            self,
            "EncordRole",
            role_name=role_name,
            description="Assumed by Encord (with the external ID) to sign URLs to the "
            "configured S3 data",
            assumed_by=iam.CompositePrincipal(*trusted_principals)
            if len(trusted_principals) > 1
            else trusted_principals[0],
            external_ids=[external_id],
            max_session_duration=max_session_duration,
            permissions_boundary=permissions_boundary,
        )
        grants = {entry.bucket.node.path: self._grant(entry) for entry in buckets}
        mraps = [
            MrapGrant(*_mrap_parts(m.arn), buckets=tuple(grants[b.node.path] for b in m.buckets))
            for m in multi_region_access_points
        ]
        statements = access_statements(list(grants.values()), mraps, allow_listing=allow_listing)
        self._policy = iam.ManagedPolicy(
            self,
            "AccessPolicy",
            description="Encord reads (and, where configured, writes) the configured S3 prefixes",
            statements=statements,
            roles=[self._role],
        )
        self._acknowledge_prefix_wildcards(wildcard_resources(statements))
        origins, max_age = _unique(cors_origins), int(cors_max_age.to_seconds())
        self._rule_ids: dict[str, str] = {}
        imported: list[ImportedBucket] = []
        for entry in buckets:
            if not entry.manage_cors:
                continue
            label = known_bucket_name(entry.bucket) or Names.unique_id(entry.bucket)
            rule_id = cors_rule_id or owned_rule_id(self, label)
            self._rule_ids[entry.bucket.node.path] = rule_id
            if isinstance(entry.bucket, s3.Bucket):
                add_to_bucket(entry.bucket, cors_rule(rule_id, origins, max_age))
            else:
                grant = grants[entry.bucket.node.path]
                imported.append(self._imported(entry.bucket, grant, label, rule_id))
        template = cors_rule("", origins, max_age)
        hardening = FunctionHardening(
            log_key=log_encryption_key, tracing=tracing, reserve_concurrency=reserve_concurrency
        )
        self._cors_handlers = (
            merge_into_imported_buckets(self, imported, template, hardening) if imported else {}
        )

    @property
    def role(self) -> iam.Role:
        """The role Encord assumes (paste its ARN into Encord's New integration dialog)."""
        return self._role

    @property
    def policy(self) -> iam.ManagedPolicy:
        """The managed policy on `role` that grants the S3 (and KMS) access."""
        return self._policy

    @property
    def cors_handlers(self) -> Mapping[str, lambda_.Function]:
        """The functions that merge the CORS rule into imported buckets, by bucket name."""
        return dict(self._cors_handlers)

    @property
    def cors_handler(self) -> lambda_.Function | None:
        """The first of `cors_handlers` (there is one per imported bucket); None without any."""
        return next(iter(self._cors_handlers.values()), None)

    def cors_rule_id_for(self, bucket: s3.IBucket) -> str | None:
        """The ID of the CORS rule kept on `bucket`; None when its CORS is not managed."""
        return self._rule_ids.get(bucket.node.path)

    @property
    def cors_rule_id(self) -> str:
        """The `cors_rule_id` given, else the first bucket's rule ID (see `cors_rule_id_for`)."""
        return self._explicit_rule_id or next(iter(self._rule_ids.values()), "")

    @property
    def buckets(self) -> tuple[EncordBucket, ...]:
        """The buckets Encord may read, as given."""
        return self._buckets

    def _grant(self, entry: EncordBucket) -> BucketGrant:
        key = entry.key or entry.bucket.encryption_key
        return BucketGrant(
            arn=self._bucket_arn(entry.bucket),
            prefixes=_unique(entry.prefixes) or ("",),
            region=self._region_of(entry.bucket),
            write_prefix=entry.write_prefix,
            key_arn=key.key_arn if key else None,
        )

    def _bucket_arn(self, bucket: s3.IBucket) -> str:
        """The bucket's ARN: by name when the app spells the name.

        A named bucket is granted as ``arn:<partition>:s3:::<name>`` rather than through
        ``Fn::GetAtt``: the policy, its cdk-nag findings and a review then read the name,
        and the policy does not wait for the bucket.
        """
        name = known_bucket_name(bucket)
        if name is None:
            return bucket.bucket_arn
        return Stack.of(self).format_arn(service="s3", region="", account="", resource=name)

    def _region_of(self, bucket: s3.IBucket) -> str:
        """The bucket's region (``env.region``); the deploying region when it is the stack's."""
        region = bucket.env.region
        if Token.is_unresolved(region) or region == Stack.of(self).region:
            return Aws.REGION
        return region

    def _imported(
        self, bucket: s3.IBucket, grant: BucketGrant, label: str, rule_id: str
    ) -> ImportedBucket:
        former: tuple[str, ...] = ()
        if self._explicit_rule_id is None:
            # The IDs earlier versions gave the rule: the stack's name (the app's stack), or
            # the construct's unique ID (the construct on its own).
            former = tuple(
                dict.fromkeys(
                    legacy_rule_id(owner)
                    for owner in (Stack.of(self).stack_name, Names.unique_id(self))
                    if not Token.is_unresolved(owner)
                )
            )
        return ImportedBucket(
            label=label,
            name=bucket.bucket_name,
            arn=grant.arn,
            region=grant.region,
            rule_id=rule_id,
            replaces=former,
        )

    def _acknowledge_prefix_wildcards(self, resources: Sequence[str]) -> None:
        """Acknowledge cdk-nag's IAM5 finding for each ``<prefix>*`` resource, and only those.

        Any other wildcard (a ``*`` action, a bucket-wide grant nobody asked for) still fails
        synth. The IDs are spelled the way cdk-nag spells the resolved resources.
        """
        stack = Stack.of(self)
        findings = {
            IAM5_RESOURCE_FINDING.format(resource=flatten_reference(stack.resolve(r)))
            for r in resources
        }
        for finding in sorted(findings):
            Validations.of(self._policy).acknowledge(
                Acknowledgment(id=finding, reason=_PREFIX_WILDCARD_REASON)
            )


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    """`values` without repeats, in their order."""
    return tuple(dict.fromkeys(values))


def _mrap_parts(arn: str) -> tuple[str, str]:
    parts = parse_mrap_arn(arn)
    assert parts is not None  # checked by check_props
    return parts
