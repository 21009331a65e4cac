"""The Encord SSH key, read from Secrets Manager once per warm container and never shown.

The secret's SecretString is the OpenSSH private key text, as in the key file. Nothing here
logs or returns it anywhere but to the caller that signs with it; errors name the secret and
AWS's error code only.
"""

from __future__ import annotations

import threading
from typing import Any

from registration.aws_errors import AUTH_CODES, error_code
from registration.errors import AuthError, RemoteError, UsageError

MISSING_SECRET_CODES = frozenset({"ResourceNotFoundException"})
"""The secret does not exist (or its name or ARN is wrong)."""
UNREADABLE_SECRET_CODES = frozenset({"DecryptionFailure", "InvalidRequestException"})
"""The secret exists but cannot be read (its KMS key, or it is being deleted)."""


class SecretKey:
    """The key text of one secret, read on first use and kept (thread-safe)."""

    def __init__(self, client: Any, secret_id: str) -> None:
        self._client = client
        self.secret_id = secret_id
        self._lock = threading.Lock()
        self._text: str | None = None

    def text(self) -> str:
        """The private key text (read from Secrets Manager the first time)."""
        with self._lock:
            if self._text is None:
                self._text = self._read()
            return self._text

    def forget(self) -> None:
        """Drop the cached value: the next `text()` reads the secret again (after a rotation)."""
        with self._lock:
            self._text = None

    def _read(self) -> str:
        where = f"secret {self.secret_id!r}"
        try:
            answer = self._client.get_secret_value(SecretId=self.secret_id)
        except Exception as exc:
            code = error_code(exc)
            if code in AUTH_CODES:
                raise AuthError(
                    f"the function may not read the Encord key from {where} ({code})",
                    hint="the construct grants secretsmanager:GetSecretValue on that secret "
                    "(and kms:Decrypt for its key): redeploy it, or check the secret's policy",
                ) from None
            if code in MISSING_SECRET_CODES:
                raise UsageError(
                    f"{where} holding the Encord key does not exist ({code})",
                    hint="create it from the key file (docs/continuous.md) or fix sshKeySecret",
                ) from None
            if code in UNREADABLE_SECRET_CODES:
                raise AuthError(f"{where} cannot be read ({code})") from None
            raise RemoteError(
                f"cannot read {where} from Secrets Manager ({code or type(exc).__name__})"
            ) from None
        text = answer.get("SecretString")
        if not isinstance(text, str) or not text.strip():
            raise UsageError(
                f"{where} has no text value: it must hold the OpenSSH private key text",
                hint="put-secret-value --secret-string file://KEY (docs/continuous.md)",
            )
        return text
