"""boto3 S3 client, region lookup and the mapping of S3 errors to the helper's errors."""

from __future__ import annotations

import os
import weakref
from typing import Any

from registration.aws_errors import AUTH_CODES, MISSING_BUCKET_CODES, error_code, error_message
from registration.errors import AuthError, RegisterError, RemoteError, UsageError


def _raw_timestamp(value: str) -> str:
    return value


def make_s3_client(region: str | None = None) -> Any:
    """An S3 client from boto3's standard credential chain (profiles, env, roles).

    Timestamps in responses stay strings: parsing LastModified with dateutil costs more
    than the rest of a ListObjectsV2 page, and the manifest never reads it.
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_raw_timestamp
    )
    config = Config(retries={"max_attempts": 8, "mode": "adaptive"}, max_pool_connections=32)
    session = boto3.session.Session(botocore_session=core)
    client = session.client("s3", region_name=region, config=config)
    _fresh_connections_after_fork(client)
    return client


def _fresh_connections_after_fork(client: Any) -> None:
    """A forked process (the parallel manifest build's workers, `parallel`) must not talk
    over the connections its parent opened: there, the client's copy drops them (closing a
    copy of a socket leaves the parent's open) and opens its own on first use."""
    ref = weakref.ref(client)

    def drop() -> None:
        copy = ref()
        http = getattr(getattr(copy, "_endpoint", None), "http_session", None)
        if http is not None:
            http.close()

    os.register_at_fork(after_in_child=drop)


def s3_error(exc: BaseException, *, bucket: str, action: str) -> RegisterError:
    """Translate a botocore exception raised while `action` on `bucket` into a RegisterError."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AuthError(
            f"no AWS credentials found while {action} s3://{bucket}",
            hint="configure credentials (AWS_PROFILE, environment variables or a role)",
        )
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = error_message(exc) or code
        if code in MISSING_BUCKET_CODES:
            return UsageError(
                f"bucket {bucket!r} does not exist (or is not visible to these credentials) "
                f"while {action} s3://{bucket}",
                hint="check the bucket name and the AWS account/region of your credentials",
            )
        if code in AUTH_CODES:
            return AuthError(
                f"access denied while {action} s3://{bucket}: {message}",
                hint="the credentials need s3:ListBucket (and s3:GetObject for sidecars "
                "and inventories) on this bucket",
            )
        return RemoteError(f"S3 error while {action} s3://{bucket}: {code} {message}")
    if isinstance(exc, BotoCoreError):
        return RemoteError(f"cannot reach S3 while {action} s3://{bucket}: {exc}")
    return RemoteError(f"unexpected error while {action} s3://{bucket}: {exc}")


def bucket_region(client: Any, bucket: str) -> str:
    """The bucket's region from HeadBucket's x-amz-bucket-region header.

    The header is present on 200 and also on 301/403 answers, so this works even when
    GetBucketLocation is denied.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.head_bucket(Bucket=bucket)
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    except ClientError as exc:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        region = headers.get("x-amz-bucket-region")
        if region and error_code(exc) not in MISSING_BUCKET_CODES:
            return str(region)
        raise s3_error(exc, bucket=bucket, action="looking up the region of") from exc
    except BotoCoreError as exc:
        raise s3_error(exc, bucket=bucket, action="looking up the region of") from exc
    region = headers.get("x-amz-bucket-region")
    if not region:
        raise UsageError(
            f"S3 did not say which region bucket {bucket!r} is in",
            hint="pass --region",
        )
    return str(region)
