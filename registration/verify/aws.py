"""boto3 clients for one `verify` run, and what AWS errors mean for a check.

(Imported only when `verify` runs, so botocore is imported at the top.)

Every AWS call of a run goes through `AwsClients.call`, which turns credential problems
into `AuthError` (missing or invalid credentials at any time; AccessDenied on the first
call of the run, when nothing can be checked at all). Later denials are the caller's to
report, as a check that could not be made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.parsers import ResponseParserError

from registration.aws_errors import BAD_CREDENTIAL_CODES, DENIED_CODES, error_code, error_message
from registration.errors import AuthError, RemoteError

AWS_ERRORS: tuple[type[BaseException], ...] = (
    ClientError,
    BotoCoreError,
    ResponseParserError,  # an answer that is not AWS's (an emulator's 500 page)
    NotImplementedError,  # an action a local emulator does not implement
)
"""What an AWS call can raise that a check reports."""

CREDENTIALS_HINT = (
    "configure AWS credentials of the account that holds the role and buckets "
    "(AWS_PROFILE, environment variables or an assumed role); verify needs read access: "
    "iam:GetRole, iam:List*RolePolicies, iam:GetPolicy*, s3:ListBucket, s3:GetBucket*, "
    "s3:GetObject (HEAD), kms:DescribeKey"
)
MAX_ERROR_TEXT = 200
"""Error texts are cut to their first line and this many characters (no HTML pages)."""
AWS_DNS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


def describe_error(exc: BaseException) -> str:
    """`Code: message` of a ClientError, or the exception's type and text."""
    code = error_code(exc)
    if code:
        message = error_message(exc)
        return f"{code}: {message}" if message else code
    text = str(exc).strip().splitlines()[0].rstrip(":") if str(exc).strip() else ""
    if len(text) > MAX_ERROR_TEXT:
        text = text[: MAX_ERROR_TEXT - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_denied(exc: BaseException) -> bool:
    """True when AWS refused the call for lack of permission."""
    return error_code(exc) in DENIED_CODES


def arn_partition(arn: str | None) -> str:
    """The partition an ARN names (``aws``, ``aws-cn``, ...); ``aws`` when there is none."""
    parts = (arn or "").split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def custom_endpoint(client: Any) -> str | None:
    """The client's endpoint URL when it is not AWS's own (a local emulator, a proxy).

    boto3 takes it from ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` or the config file.
    """
    endpoint = str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "")
    host = urlsplit(endpoint).hostname or ""
    if endpoint and not host.endswith(AWS_DNS_SUFFIXES):
        return endpoint.rstrip("/")
    return None


class AwsClients:
    """One boto3 session for a run: clients cached per (service, region), guarded calls."""

    def __init__(self, session: Any = None, *, default_region: str | None = None) -> None:
        self._session = session
        self.default_region = default_region
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._first_call = True

    @property
    def session(self) -> Any:
        """The boto3 session (created on first use, from the standard credential chain)."""
        if self._session is None:
            import boto3

            self._session = boto3.session.Session()
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """A client for `service` in `region` (default: the run's region, else boto3's)."""
        from botocore.config import Config

        region = region or self.default_region
        if service == "kms" and region is None:
            region = self.session.region_name or "us-east-1"
        cache_key = (service, region)
        if cache_key not in self._clients:
            config = Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=10,
                read_timeout=30,
            )
            self._clients[cache_key] = self.session.client(
                service, region_name=region, config=config
            )
        return self._clients[cache_key]

    def call(self, client: Any, operation: str, action: str, **kwargs: Any) -> Any:
        """Call `client.operation(**kwargs)`; `action` names it for messages (``iam:GetRole``).

        Raises AuthError for missing or rejected credentials, and for AccessDenied on the
        run's first call; RemoteError when the first call cannot reach AWS. Other errors
        propagate for the check to report.
        """
        first, self._first_call = self._first_call, False
        method: Callable[..., Any] = getattr(client, operation)
        try:
            return method(**kwargs)
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise AuthError(f"no AWS credentials found ({action})", hint=CREDENTIALS_HINT) from exc
        except ClientError as exc:
            code = error_code(exc)
            if code in BAD_CREDENTIAL_CODES:
                raise AuthError(
                    f"AWS rejected the credentials ({action}): {describe_error(exc)}",
                    hint=CREDENTIALS_HINT,
                ) from exc
            if first and code in DENIED_CODES:
                raise AuthError(
                    f"access denied to {action}, the first call of the run: {describe_error(exc)}",
                    hint=CREDENTIALS_HINT,
                ) from exc
            raise
        except BotoCoreError as exc:
            if first:
                raise RemoteError(f"cannot reach AWS ({action}): {exc}") from exc
            raise
