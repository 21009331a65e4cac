"""Logging for the CLI: `-v` gives debug detail, never a credential, signature or key.

Under `-v` the helper's own loggers log at DEBUG, but the HTTP stacks below it stay quieter
(`QUIET_UNDER_VERBOSE`): at DEBUG botocore logs every request's headers (`Authorization`,
`X-Amz-Security-Token`), its canonical request and signature, and urllib3 logs request lines
with presigned query strings (`X-Amz-Signature=...`). Whatever a library still logs passes
through `redact` on its way out: credential-bearing fields (`SECRET_FIELDS`), private key
blocks, and the secret values of this process's environment (`SECRET_ENV`) become `***`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import TextIO

from registration.encord.connection import ENV_KEY

FORMAT = "%(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "encord-register"
"""The name of the one handler `configure_logging` installs (and replaces on a second call)."""
MASK = "***"

QUIET_UNDER_VERBOSE: dict[str, int] = {
    "botocore": logging.INFO,
    "boto3": logging.INFO,
    "s3transfer": logging.INFO,
    "urllib3": logging.WARNING,
    "requests": logging.WARNING,
}
"""Libraries kept above DEBUG under `-v`: their DEBUG lines carry request headers, signed URLs
and response bodies (an STS answer holds a secret key)."""

SECRET_FIELDS = (
    "authorization",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-credential",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "secretaccesskey",
    "secret_key",
    "sessiontoken",
    "session_token",
    "signature",
)
"""Names whose value is a secret wherever they appear: `Name: value`, `name=value`,
`'name': 'value'` (headers, query strings, dict reprs). `authorization` masks up to the end
of its quote or line: its value has spaces and commas."""

SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", ENV_KEY)
"""Environment variables whose values are masked wherever they show up."""
_MIN_SECRET_CHARS = 16
"""Shorter values (`test` of an emulator) are not masked everywhere: they are no secret."""

_FIELD_NAMES = "|".join(re.escape(name) for name in SECRET_FIELDS if name != "authorization")
_PATTERNS = (
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*b?[\"']?)[^\"'\r\n]+"),
    re.compile(rf"(?i)((?:{_FIELD_NAMES})[\"']?\s*[:=]\s*b?[\"']?)[^\"'\s,&;}}\]\)]+"),
    re.compile(r"(?i)(<(?:SecretAccessKey|SessionToken|SecurityToken)>)[^<]+"),  # STS answers
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
    re.DOTALL,
)


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """The secret values to mask: `SECRET_ENV`'s, and each line of a private key in them."""
    env = os.environ if environ is None else environ
    values: list[str] = []
    for name in SECRET_ENV:
        value = env.get(name, "")
        values.append(value)
        values += value.replace("\\n", "\n").splitlines()
    found = {v.strip() for v in values if len(v.strip()) >= _MIN_SECRET_CHARS}
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret field value, private key block and value of `secrets` masked."""
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    text = _PRIVATE_KEY.sub(MASK, text)
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\g<1>{MASK}", text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose every line (message, arguments, traceback) goes through `redact`."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, redacted."""
        return redact(super().format(record), self.secrets)


def configure_logging(verbose: bool, stream: TextIO | None = None) -> logging.Handler:
    """Send log records to `stream` (stderr): DEBUG with `verbose`, else WARNING; redacted."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(RedactingFormatter(FORMAT, secret_values()))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name, level in QUIET_UNDER_VERBOSE.items():
        logging.getLogger(name).setLevel(level if verbose else logging.NOTSET)
    return handler
