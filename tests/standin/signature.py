"""Verify the HTTP message signature the Encord SDK puts on every v2 request.

The SDK signs `"@method"`, `"@request-target"` and `"content-digest"` with the user's
Ed25519 key (draft-ietf-httpbis-message-signatures); see the reference, section 5.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

LABEL = "encord-sig"
MAX_CLOCK_SKEW_SECONDS = 300
_PARAMS_RE = re.compile(r'^\(([^)]*)\)((?:;[a-z]+=(?:"[^"]*"|\d+))*)$')


class SignatureError(Exception):
    """The request is not signed by a known key, or the signature does not match."""


def _sfv_bytes(value: str, label: str) -> bytes:
    prefix = f"{label}=:"
    if not (value.startswith(prefix) and value.endswith(":")):
        raise SignatureError(f"malformed structured field: {value[:40]!r}")
    return base64.b64decode(value[len(prefix) : -1])


def verify_request(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    known_keys: Mapping[str, Ed25519PublicKey],
    now: float | None = None,
) -> str:
    """Check one request; return the key id (public key hex) that signed it."""
    digest_header = headers.get("Content-Digest")
    sig_input = headers.get("Signature-Input")
    signature = headers.get("Signature")
    if not (digest_header and sig_input and signature):
        raise SignatureError("request is not signed (missing signature headers)")
    expected_digest = _sfv_str_digest(body)
    if digest_header != expected_digest:
        raise SignatureError("Content-Digest does not match the body")
    if not sig_input.startswith(f"{LABEL}="):
        raise SignatureError("unknown signature label")
    params = sig_input[len(LABEL) + 1 :]
    match = _PARAMS_RE.match(params)
    if not match:
        raise SignatureError("malformed Signature-Input")
    covered = match.group(1).split()
    if covered != ['"@method"', '"@request-target"', '"content-digest"']:
        raise SignatureError(f"unexpected covered components {covered}")
    fields = dict(
        (k, v.strip('"')) for k, v in (p.split("=", 1) for p in match.group(2).split(";")[1:])
    )
    if fields.get("alg") != "ed25519":
        raise SignatureError("unsupported signature algorithm")
    created = int(fields.get("created", "0"))
    if abs((now if now is not None else time.time()) - created) > MAX_CLOCK_SKEW_SECONDS:
        raise SignatureError("signature timestamp outside the allowed clock skew")
    key_id = fields.get("keyid", "")
    public_key = known_keys.get(key_id)
    if public_key is None:
        raise SignatureError("the signing key is not registered with any user")
    base = "\n".join(
        [
            f'"@method": {method.upper()}',
            f'"@request-target": {target}',
            f'"content-digest": {digest_header}',
            f'"@signature-params": {params}',
        ]
    )
    try:
        public_key.verify(_sfv_bytes(signature, LABEL), base.encode())
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc
    return key_id


def _sfv_str_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"
