"""Runs every check of a `VerifyTarget`, in a fixed order, into a `Report`.

Order: the role (exists, trust, external ID); then per bucket: region, requester pays,
default encryption, CORS rules, the CORS preflight, GetObject on sample keys, ListBucket on
each prefix (only when the stack says ``allowListing``), the samples' own encryption, their
storage class; then the Multi-Region Access Points.
"""

from __future__ import annotations

from registration.verify.access import AccessDecider
from registration.verify.aws import AwsClients, arn_partition, custom_endpoint
from registration.verify.checks_bucket import (
    check_cors,
    check_encryption,
    check_location,
    check_requester_pays,
)
from registration.verify.checks_listing import check_listing
from registration.verify.checks_mrap import check_mraps
from registration.verify.checks_objects import (
    check_get_object,
    check_object_encryption,
    check_storage,
    collect_samples,
)
from registration.verify.checks_preflight import CORS_PREFLIGHT, check_preflight, preflight_key
from registration.verify.checks_role import check_role
from registration.verify.kms_keys import KeyChecker
from registration.verify.model import BucketTarget, Report, VerifyTarget, not_checked
from registration.verify.preflight import Transport, urllib_transport

FALLBACK_REGION = "us-east-1"


def _check_bucket(
    report: Report,
    aws: AwsClients,
    target: VerifyTarget,
    bucket: BucketTarget,
    decider: AccessDecider | None,
    keys: KeyChecker,
    transport: Transport,
) -> None:
    location = check_location(aws, bucket)
    report.add(*location.results)
    if not location.exists:
        return
    region = location.region or bucket.region or aws.default_region or FALLBACK_REGION
    s3 = aws.client("s3", region)
    report.add(check_requester_pays(aws, s3, bucket.name))
    report.add(check_encryption(aws, s3, bucket.name, region, keys))
    report.add(*check_cors(aws, s3, bucket.name, target.origins, target.stack_args))
    samples, sample_results = collect_samples(aws, s3, bucket.name, bucket.prefixes, target.sample)
    if target.preflight:
        key = preflight_key(samples.keys, bucket.prefixes)
        report.add(
            *check_preflight(
                bucket.name,
                region,
                key,
                target.origins,
                endpoint=custom_endpoint(s3),
                transport=transport,
                stack_args=target.stack_args,
            )
        )
    else:
        report.add(not_checked(CORS_PREFLIGHT, f"s3://{bucket.name}", "not sent (--no-preflight)"))
    report.add(*sample_results)
    report.add(*check_get_object(bucket.name, samples, decider, arn_partition(target.role_arn)))
    if target.allow_listing:
        report.add(*check_listing(bucket, decider, arn_partition(target.role_arn)))
    report.add(check_object_encryption(bucket.name, region, samples, keys))
    report.add(check_storage(bucket.name, samples))


def run_checks(
    target: VerifyTarget, aws: AwsClients, *, transport: Transport = urllib_transport
) -> Report:
    """Run every check for `target`; AuthError/RemoteError when nothing can be checked."""
    report = Report()
    role = check_role(aws, target)
    report.add(*role.results)
    decider = (
        AccessDecider(aws, target.role_arn, role.role)
        if role.role is not None and target.role_arn
        else None
    )
    keys = KeyChecker(aws, decider)
    for bucket in target.buckets:
        _check_bucket(report, aws, target, bucket, decider, keys, transport)
    report.add(*check_mraps(aws, target.mraps))
    if decider is not None and decider.simulator_problem:
        report.notes.append(
            f"IAM's policy simulator was not available ({decider.simulator_problem}); "
            "permissions were decided by local policy evaluation of the role's identity "
            "policies and permission boundary (bucket and key policies are not evaluated)"
        )
    return report
