"""How the helper connects to Encord: the key, the domain, and an SDK client built from them.

The key is read from `--ssh-key-file`, else ENCORD_SSH_KEY_FILE, else ENCORD_SSH_KEY (as the
SDK reads them), and is never printed, logged or written anywhere. The SDK's own HTTP
retries are switched off (`RequestsSettings` below) so that one policy,
`registration.encord.retry`, governs every call, with jitter and a bound.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from registration.errors import AuthError, UsageError

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient

DEFAULT_DOMAIN = "https://api.encord.com"
US_DOMAIN = "https://api.us.encord.com"
ENV_DOMAIN = "ENCORD_DOMAIN"
ENV_KEY_FILE = "ENCORD_SSH_KEY_FILE"
ENV_KEY = "ENCORD_SSH_KEY"
CONNECT_TIMEOUT_SECONDS = 15
# Encord may take a while to accept a large registration file; a timeout is treated as a
# lost answer (the file is re-sent with duplicates skipped), so keep it generous (SDK default).
READ_TIMEOUT_SECONDS = 180

AUTH_HINT = (
    "check the key (--ssh-key-file, ENCORD_SSH_KEY_FILE or ENCORD_SSH_KEY) is the private half of "
    "a public key added in Encord (Settings > Public keys), and that --encord-domain matches your "
    f"tenant ({DEFAULT_DOMAIN}, or {US_DOMAIN} for the US)"
)


@dataclass(frozen=True)
class EncordConnection:
    """How to reach Encord: the key file (else ENCORD_SSH_KEY_FILE / ENCORD_SSH_KEY) and domain."""

    ssh_key_file: Path | None = None
    domain: str | None = None
    """The API domain (else ENCORD_DOMAIN, else Encord's default)."""

    def client(self, environ: Mapping[str, str] | None = None) -> EncordUserClient:
        """An SDK client for this connection (no network call happens here)."""
        return connect(ssh_key_file=self.ssh_key_file, domain=self.domain, environ=environ)


def resolve_domain(value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API domain: the flag, else ENCORD_DOMAIN, else Encord's default."""
    env = os.environ if environ is None else environ
    domain = (value or env.get(ENV_DOMAIN) or DEFAULT_DOMAIN).rstrip("/")
    if not domain.startswith(("https://", "http://")):
        raise UsageError(
            f"--encord-domain must be a URL such as {DEFAULT_DOMAIN}, got {domain!r}",
        )
    return domain


def load_key_text(ssh_key_file: Path | None, environ: Mapping[str, str] | None = None) -> str:
    """The private key text: the flag, else ENCORD_SSH_KEY_FILE, else ENCORD_SSH_KEY."""
    env = os.environ if environ is None else environ
    path = ssh_key_file or (Path(env[ENV_KEY_FILE]) if env.get(ENV_KEY_FILE) else None)
    if path is not None:
        try:
            return path.expanduser().read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthError(
                f"cannot read the Encord SSH key file {path}: {exc.__class__.__name__}",
                hint="pass --ssh-key-file or set ENCORD_SSH_KEY_FILE to a readable key file",
            ) from None
    text = env.get(ENV_KEY)
    if text:
        return text
    raise AuthError(
        "no Encord key: pass --ssh-key-file, or set ENCORD_SSH_KEY_FILE or ENCORD_SSH_KEY",
        hint=AUTH_HINT,
    )


def load_sdk() -> None:
    """Import the SDK's client ahead of `connect` (about 0.8 s of CPU here, mostly its models).

    For a caller with a moment to spare, such as while worker processes read the files
    (`registration.register.files.iter_manifest_files`); `connect` imports it anyway.
    """
    import encord.user_client  # noqa: F401


def connect(
    *,
    ssh_key_file: Path | None = None,
    domain: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> EncordUserClient:
    """An `EncordUserClient` for the key and domain (no network call happens here)."""
    from encord.http.constants import RequestsSettings
    from encord.user_client import EncordUserClient

    key_text = load_key_text(ssh_key_file, environ)
    settings = RequestsSettings(
        max_retries=0,
        connection_retries=0,
        backoff_factor=0.0,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        write_timeout=READ_TIMEOUT_SECONDS,
    )
    try:
        return EncordUserClient.create_with_ssh_private_key(
            ssh_private_key=key_text,
            domain=resolve_domain(domain, environ),
            requests_settings=settings,
        )
    except (ValueError, TypeError) as exc:
        # The SDK's messages about a bad key never quote it, but stay generic anyway.
        raise AuthError(
            f"the Encord key is not a usable OpenSSH Ed25519 private key ({type(exc).__name__})",
            hint=AUTH_HINT,
        ) from None
