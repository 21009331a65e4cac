"""The stand-in reads a user's key as an OpenSSH public key line, a private key or hex."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.standin.__main__ import build_parser
from tests.standin.keys import (
    KeyFormatError,
    generate_ssh_key,
    openssh_public_line,
    public_key_hex_from_text,
)
from tests.standin.testing import subprocess_env

REPO = Path(__file__).resolve().parents[2]


def _ed25519() -> tuple[Ed25519PrivateKey, str, str]:
    """A real key: (key, its OpenSSH public line with a comment, its raw public key hex)."""
    key = Ed25519PrivateKey.generate()
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, line.decode("ascii") + " alice@laptop", raw.hex()


def test_an_openssh_public_key_line_gives_the_raw_public_key() -> None:
    _, line, raw_hex = _ed25519()
    assert line.startswith("ssh-ed25519 AAAA")
    assert public_key_hex_from_text(line + "\n") == raw_hex


def test_the_comment_is_optional_and_may_have_spaces() -> None:
    _, line, raw_hex = _ed25519()
    bare = " ".join(line.split()[:2])
    assert public_key_hex_from_text(bare) == raw_hex
    assert public_key_hex_from_text(bare + " Alice's key (work laptop)") == raw_hex


def test_the_forms_accepted_before_still_work() -> None:
    text, key_hex = generate_ssh_key()
    assert public_key_hex_from_text(text) == key_hex  # OpenSSH private key
    assert public_key_hex_from_text(key_hex + "\n") == key_hex  # raw hex
    assert public_key_hex_from_text(key_hex.upper()) == key_hex


def test_the_public_line_of_a_generated_key_matches_it() -> None:
    text, key_hex = generate_ssh_key()
    line = openssh_public_line(text, comment="demo")
    assert line.startswith("ssh-ed25519 ") and line.endswith(" demo")
    assert public_key_hex_from_text(line) == key_hex


def _openssh_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("ssh-ed25519", "has a key type and base64 data"),
        ("ssh-ed25519 AAAA!!!not-base64 me", "not a valid OpenSSH public key line"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPhI5RbRU3os me", "not a valid OpenSSH public key"),
        ("hello", "unrecognised key"),
        ("abcd", "64 hex digits"),
        ("ssh-ed25519 AAAA a\nssh-ed25519 AAAA b", "one key on one line"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "not an unencrypted OpenSSH private key",
        ),
    ],
)
def test_a_bad_key_says_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(KeyFormatError, match=expected):
        public_key_hex_from_text(text)


def test_other_key_types_are_refused_by_name() -> None:
    rsa_line = _openssh_public(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(KeyFormatError, match=r"'ssh-rsa'.*Ed25519 keys only"):
        public_key_hex_from_text(rsa_line + " bob@host")
    ecdsa_line = _openssh_public(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyFormatError, match=r"'ecdsa-sha2-nistp256'.*Ed25519"):
        public_key_hex_from_text(ecdsa_line)


def test_every_option_of_the_standin_is_documented() -> None:
    parser = build_parser()
    assert parser.description and "production code never" in parser.description
    for action in parser._actions:
        assert action.help, action.dest


def _run_standin(key_file: Path, tmp_path: Path, timeout: float = 30) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standin",
            "--integration",
            "keys-test",
            "--public-key-file",
            str(key_file),
            "--ready-file",
            str(tmp_path / "ready"),
        ],
        cwd=REPO,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_bad_key_file_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "id_ed25519.pub"
    bad.write_text("ssh-ed25519 this-is-not-a-key me@host\n", encoding="ascii")
    process = _run_standin(bad, tmp_path)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"error: --public-key-file {bad}: not a valid OpenSSH public key line" in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "ready").exists()


def test_the_standin_accepts_requests_signed_by_the_key_of_a_public_line(tmp_path: Path) -> None:
    from encord.user_client import EncordUserClient

    key, line, _ = _ed25519()
    public = tmp_path / "id_ed25519.pub"
    public.write_text(line + "\n", encoding="ascii")
    private_text = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    process = _run_standin(public, tmp_path)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        assert ready[0] == "ready", process.stderr.read() if process.stderr else ""
        client = EncordUserClient.create_with_ssh_private_key(private_text, domain=ready[1])
        titles = [integration.title for integration in client.get_cloud_integrations()]
        assert titles == ["keys-test"]
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0
