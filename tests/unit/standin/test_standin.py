"""The stand-in's signature check rejects what Encord would reject."""

from __future__ import annotations

import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from encord.http.v2.request_signer import sign_request

from tests.standin.keys import generate_ssh_key, public_key_hex_from_private_text
from tests.standin.signature import SignatureError, verify_request
from tests.standin.store import BadRequest, parse_units


def _signed(
    body: bytes = b'{"a": 1}',
) -> tuple[requests.PreparedRequest, dict[str, Ed25519PublicKey], str]:
    text, key_hex = generate_ssh_key()
    private = serialization.load_ssh_private_key(text.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    req = requests.Request("POST", "http://h/v2/public/storage/folders?x=1", data=body).prepare()
    sign_request(req, key_hex, private)
    known = {key_hex: Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))}
    assert public_key_hex_from_private_text(text) == key_hex
    return req, known, key_hex


def _verify(req: requests.PreparedRequest, known, body: bytes, target: str | None = None, now=None):
    return verify_request("POST", target or req.path_url, dict(req.headers), body, known, now=now)


def test_a_request_signed_by_the_sdk_verifies():
    req, known, key_hex = _signed()
    assert _verify(req, known, b'{"a": 1}') == key_hex


@pytest.mark.parametrize(
    ("body", "target", "shift", "message"),
    [
        (b'{"a": 2}', None, 0, "Content-Digest"),
        (b'{"a": 1}', "/v2/public/storage/folders?x=2", 0, "does not verify"),
        (b'{"a": 1}', None, 3600, "clock skew"),
    ],
)
def test_tampering_is_rejected(body, target, shift, message):
    req, known, _ = _signed()
    with pytest.raises(SignatureError, match=message):
        _verify(req, known, body, target, now=time.time() + shift)


def test_unknown_key_and_unsigned_requests_are_rejected():
    req, _, _ = _signed()
    with pytest.raises(SignatureError, match="not registered"):
        _verify(req, {}, b'{"a": 1}')
    with pytest.raises(SignatureError, match="not signed"):
        verify_request("GET", "/", {}, b"", {})


def test_registration_document_checks():
    units = parse_units(
        {
            "images": [{"objectUrl": "https://b/x.jpg"}],
            "image_groups": [{"title": "g", "objectUrl_0": "https://b/0", "createVideo": True}],
            "skip_duplicate_urls": True,
        }
    )
    assert [(u.item_type, u.title, u.urls) for u in units] == [
        ("image", "x.jpg", ("https://b/x.jpg",)),
        ("imageSequence", "g", ("https://b/0",)),
    ]
    for bad in (
        {"pictures": []},
        {"images": [{"title": "no url"}]},
        {"image_groups": [{"title": "g", "objectUrl_1": "u"}]},
        {"images": [{"objectUrl": "https://b/a b.jpg"}]},
    ):
        with pytest.raises(BadRequest):
            parse_units(bad)
