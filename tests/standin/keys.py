"""Throwaway Ed25519 keys in the form the Encord SDK reads (OpenSSH private key text)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def public_key_hex_of(private_key: Ed25519PrivateKey) -> str:
    """The key id the SDK puts in `Signature-Input`: the raw public key, hex encoded."""
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
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


def public_key_hex_from_private_text(text: str) -> str:
    """The public key hex of an OpenSSH Ed25519 private key (for the standalone CLI)."""
    key = serialization.load_ssh_private_key(text.encode("ascii"), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return public_key_hex_of(key)
