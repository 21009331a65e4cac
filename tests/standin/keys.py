"""Throwaway Ed25519 keys in the form the Encord SDK reads (OpenSSH private key text).

The stand-in identifies a user by the raw Ed25519 public key, hex encoded (the key id the
SDK puts in `Signature-Input`). `public_key_hex_from_text` turns any of the usual ways of
writing a key down into that id: an OpenSSH public key line (``ssh-ed25519 AAAA... comment``,
what ``ssh-keygen`` writes to ``KEY.pub`` and what Encord's web app asks for), an unencrypted
OpenSSH Ed25519 private key (the public half is derived), or the 64 hex digits themselves.
"""

from __future__ import annotations

import binascii
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_KEY_TYPE = "ssh-ed25519"
ACCEPTED_FORMS = (
    "an OpenSSH public key line (ssh-ed25519 AAAA... comment), an unencrypted OpenSSH "
    "Ed25519 private key, or the raw public key as 64 hex digits"
)
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")


class KeyFormatError(ValueError):
    """The text is not an Ed25519 key in a form the stand-in reads; the message says why."""


def public_key_hex_of(private_key: Ed25519PrivateKey) -> str:
    """The key id the SDK puts in `Signature-Input`: the raw public key, hex encoded."""
    return _raw_hex(private_key.public_key())


def _raw_hex(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def generate_ssh_key() -> tuple[str, str]:
    """A new key pair: (OpenSSH private key text, public key hex for the stand-in)."""
    private_key = Ed25519PrivateKey.generate()
    text = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    return text, public_key_hex_of(private_key)


def openssh_public_line(private_key_text: str, comment: str = "") -> str:
    """The OpenSSH public key line (``ssh-ed25519 AAAA... comment``) of a private key's text."""
    key = _load_private(private_key_text)
    line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    return f"{line} {comment}".rstrip()


def public_key_hex_from_private_text(text: str) -> str:
    """The public key hex of an OpenSSH Ed25519 private key (for the standalone CLI)."""
    return public_key_hex_of(_load_private(text))


def public_key_hex_from_public_line(line: str) -> str:
    """The public key hex of an OpenSSH public key line ``ssh-ed25519 AAAA... [comment]``."""
    fields = line.strip().split(maxsplit=2)
    if len(fields) < 2:
        raise KeyFormatError(
            "an OpenSSH public key line has a key type and base64 data "
            f"(ssh-ed25519 AAAA... comment); got {_preview(line)}"
        )
    key_type = fields[0]
    if key_type != ED25519_KEY_TYPE:
        raise KeyFormatError(
            f"key type {key_type!r}: the stand-in, like Encord, takes Ed25519 keys only "
            "(ssh-keygen -t ed25519)"
        )
    try:
        key = serialization.load_ssh_public_key(f"{fields[0]} {fields[1]}".encode("ascii"))
    except (ValueError, UnicodeEncodeError, binascii.Error) as exc:
        raise KeyFormatError(
            f"not a valid OpenSSH public key line ({exc}); got {_preview(line)}"
        ) from None
    if not isinstance(key, Ed25519PublicKey):  # pragma: no cover - the type prefix says so
        raise KeyFormatError("the key data is not an Ed25519 key")
    return _raw_hex(key)


def public_key_hex_from_text(text: str) -> str:
    """The stand-in's key id from a key file's text, in any of the `ACCEPTED_FORMS`."""
    stripped = text.strip()
    if not stripped:
        raise KeyFormatError(f"the file is empty; expected {ACCEPTED_FORMS}")
    if "PRIVATE KEY-----" in stripped:
        return public_key_hex_from_private_text(stripped + "\n")
    lines = [line for line in stripped.splitlines() if line.strip()]
    if len(lines) != 1:
        raise KeyFormatError(f"expected one key on one line, found {len(lines)} lines")
    line = lines[0].strip()
    if line.startswith("ssh-") or " " in line:
        return public_key_hex_from_public_line(line)
    if _HEX_RE.match(line):
        if len(line) != 64:
            raise KeyFormatError(
                f"a raw Ed25519 public key is 64 hex digits (32 bytes); got {len(line)} digits"
            )
        return line.lower()
    raise KeyFormatError(f"unrecognised key {_preview(line)}; expected {ACCEPTED_FORMS}")


def _load_private(text: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_ssh_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise KeyFormatError(
            f"not an unencrypted OpenSSH private key ({exc}); give the public key line "
            "(KEY.pub) instead"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError("not an Ed25519 key: the stand-in, like Encord, takes Ed25519 only")
    return key


def _preview(text: str, limit: int = 40) -> str:
    """The start of a line for an error message (a public key is not a secret)."""
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")
