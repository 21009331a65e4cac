"""What AWS error codes mean to the helper: one table, used by every stage that calls AWS.

boto3 is not imported here; callers pass the exception, and `error_code` reads the code off
a botocore ``ClientError`` (anything else has none).
"""

from __future__ import annotations

from typing import Final

DENIED_CODES: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "403", "Forbidden"}
)
"""AWS refused the call for lack of permission."""

BAD_CREDENTIAL_CODES: Final = frozenset(
    {
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "UnrecognizedClientException",
    }
)
"""The credentials themselves are missing parts, wrong or expired."""

AUTH_CODES: Final = DENIED_CODES | BAD_CREDENTIAL_CODES
"""Every code that means "fix the credentials or their permissions" (exit status AUTH)."""

MISSING_BUCKET_CODES: Final = frozenset({"NoSuchBucket", "404", "NotFound"})
"""The bucket does not exist, or is not visible to these credentials."""

MISSING_KEY_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})
"""The object does not exist (HeadObject has no body: its code is the status). A missing
bucket answers the same to HeadObject, and S3 answers 403 instead for a caller without
s3:ListBucket."""


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    """The AWS error message of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Message", "") or "")
