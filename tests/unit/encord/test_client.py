"""Credentials and domain resolution, as the SDK's own conventions have them."""

from __future__ import annotations

from pathlib import Path

import pytest

from registration.encord.connection import DEFAULT_DOMAIN, connect, load_key_text, resolve_domain
from registration.errors import AuthError, UsageError
from tests.standin.keys import generate_ssh_key


def test_domain_precedence_and_validation():
    assert resolve_domain(None, {}) == DEFAULT_DOMAIN
    assert resolve_domain(None, {"ENCORD_DOMAIN": "https://api.us.encord.com/"}) == (
        "https://api.us.encord.com"
    )
    assert resolve_domain("http://127.0.0.1:9", {"ENCORD_DOMAIN": "https://x"}) == (
        "http://127.0.0.1:9"
    )
    with pytest.raises(UsageError, match="must be a URL"):
        resolve_domain("api.encord.com", {})


def test_key_precedence_flag_then_file_env_then_key_env(tmp_path: Path):
    flag, env_file = tmp_path / "flag", tmp_path / "envfile"
    flag.write_text("FLAG")
    env_file.write_text("ENVFILE")
    env = {"ENCORD_SSH_KEY_FILE": str(env_file), "ENCORD_SSH_KEY": "INLINE"}
    assert load_key_text(flag, env) == "FLAG"
    assert load_key_text(None, env) == "ENVFILE"
    assert load_key_text(None, {"ENCORD_SSH_KEY": "INLINE"}) == "INLINE"
    with pytest.raises(AuthError, match="no Encord key"):
        load_key_text(None, {})
    with pytest.raises(AuthError, match="cannot read"):
        load_key_text(tmp_path / "missing", {})


def test_connect_builds_a_client_without_network_and_hides_bad_keys(tmp_path: Path):
    key_text, _ = generate_ssh_key()
    client = connect(domain="http://127.0.0.1:9", environ={"ENCORD_SSH_KEY": key_text})
    assert client is not None
    with pytest.raises(AuthError) as info:
        connect(domain="http://127.0.0.1:9", environ={"ENCORD_SSH_KEY": "secret-garbage"})
    assert "secret-garbage" not in str(info.value)
