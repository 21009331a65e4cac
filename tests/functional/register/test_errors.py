"""User mistakes and unreachable services: a clear message, the right exit code, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from registration.cli import main
from registration.exit_codes import ExitStatus
from tests.standin.keys import generate_ssh_key
from tests.standin.testing import encord_env, image_urls, write_manifest

FOLDER = "projects/batch-1"


@pytest.fixture
def env(tmp_path: Path):
    with encord_env(tmp_path) as e:
        yield e


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    out = tmp_path / "m"
    write_manifest(out, 1, images=image_urls("a", 3))
    return out


def _run(capsys, args: list[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    return code, text


def _key_body(key_text: str) -> list[str]:
    return [line for line in key_text.splitlines() if line and "PRIVATE KEY" not in line]


def test_unregistered_key_is_an_auth_error(env, manifests, tmp_path, capsys):
    other_key, _ = generate_ssh_key()
    key_file = tmp_path / "other-key"
    key_file.write_text(other_key)
    args = env.args(manifests, FOLDER)
    args[args.index("--ssh-key-file") + 1] = str(key_file)

    code, text = _run(capsys, args)

    assert code == ExitStatus.AUTH
    assert "Encord rejected the key" in text and "api.us.encord.com" in text
    assert not any(line in text for line in _key_body(other_key))
    assert env.standin.folders() == []


def test_missing_key_and_garbage_key(env, manifests, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
    monkeypatch.delenv("ENCORD_SSH_KEY", raising=False)
    args = env.args(manifests, FOLDER)
    at = args.index("--ssh-key-file")
    del args[at : at + 2]
    code, text = _run(capsys, args)
    assert code == ExitStatus.AUTH
    assert "ENCORD_SSH_KEY_FILE" in text

    monkeypatch.setenv("ENCORD_SSH_KEY", "not a key at all")
    code, text = _run(capsys, args)
    assert code == ExitStatus.AUTH
    assert "not a usable OpenSSH Ed25519 private key" in text
    assert "not a key at all" not in text


def test_key_from_environment_works_and_is_never_printed(env, manifests, capsys, monkeypatch):
    monkeypatch.setenv("ENCORD_SSH_KEY", env.key_text)
    monkeypatch.setenv("ENCORD_DOMAIN", env.standin.domain)
    args = env.args(manifests, FOLDER, "-v")
    for flag in ("--ssh-key-file", "--encord-domain"):
        at = args.index(flag)
        del args[at : at + 2]
    args.remove("-v")
    code, text = _run(capsys, ["-v", *args])
    assert code == ExitStatus.OK
    assert not any(line in text for line in _key_body(env.key_text))


def test_unknown_integration_lists_the_visible_ones(env, manifests, capsys):
    env.standin.add_integration("other-s3")
    args = env.args(manifests, FOLDER)
    args[args.index("--integration") + 1] = "nope"

    code, text = _run(capsys, args)

    assert code == ExitStatus.USAGE
    assert "no cloud integration" in text and "'demo-s3'" in text and "'other-s3'" in text


def test_ambiguous_integration_title(env, manifests, capsys):
    env.standin.add_integration("demo-s3")
    code, text = _run(capsys, env.args(manifests, FOLDER))
    assert code == ExitStatus.USAGE
    assert "2 cloud integrations are titled 'demo-s3'" in text


def test_missing_folder_with_no_create_folder(env, manifests, capsys):
    env.standin.create_folder("projects")
    code, text = _run(capsys, env.args(manifests, FOLDER, "--no-create-folder"))
    assert code == ExitStatus.USAGE
    assert "folder 'projects/batch-1' does not exist" in text
    assert [f["path"] for f in env.standin.folders()] == ["projects"]


def test_unreachable_domain_is_a_remote_error(env, manifests, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = env.args(manifests, FOLDER, "--max-retries", "2")
    args[args.index("--encord-domain") + 1] = f"http://127.0.0.1:{port}"

    code, text = _run(capsys, args)

    assert code == ExitStatus.REMOTE
    assert "kept failing" in text and f"127.0.0.1:{port}" in text


def test_corrupt_manifest_stops_before_anything_is_sent(env, tmp_path, capsys):
    manifests = tmp_path / "m"
    write_manifest(manifests, 1, images=image_urls("a", 2))
    bad = manifests / "manifest-00002.json"
    bad.write_text('{"images": [{"objectUrl": ')

    code, text = _run(capsys, env.args(manifests, FOLDER))

    assert code == ExitStatus.USAGE
    assert "manifest-00002.json" in text
    assert env.standin.registration_calls["start"] == 0


def test_empty_manifest_directory(env, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, text = _run(capsys, env.args(tmp_path / "empty", FOLDER))
    assert code == ExitStatus.USAGE
    assert "manifest" in text


def test_bad_flags(env, manifests, capsys):
    code, text = _run(capsys, env.args(manifests, FOLDER, "--jobs", "0"))
    assert code == ExitStatus.USAGE
    assert "--jobs" in text
    code, text = _run(capsys, env.args(manifests, "a//b"))
    assert code == ExitStatus.USAGE
    assert "empty path element" in text


def test_whitespace_in_url_is_caught_before_sending(env, tmp_path, capsys):
    manifests = tmp_path / "m"
    write_manifest(manifests, 1, images=image_urls("a", 2))
    write_manifest(manifests, 2, images=["https://bucket.example/has space.jpg"])
    code, text = _run(capsys, env.args(manifests, FOLDER))
    assert code == ExitStatus.USAGE
    assert "manifest-00002.json" in text and "images[0]" in text
    assert env.standin.registration_calls["start"] == 0


def test_file_rejected_by_encord_is_reported_and_others_register(env, tmp_path, capsys):
    manifests = tmp_path / "m"
    write_manifest(manifests, 1, images=image_urls("a", 2))
    write_manifest(manifests, 2, images=image_urls("b", 2))
    env.standin.reject_files_with([image_urls("b", 1)[0]], "Unsupported file")

    code, text = _run(capsys, env.args(manifests, FOLDER))

    assert code == ExitStatus.PARTIAL
    assert "manifest-00002.json: rejected" in text and "Unsupported file" in text
    assert sorted(i["url"] for i in env.items(FOLDER)) == image_urls("a", 2)


def test_permission_denied_stops_at_once(env, manifests, capsys):
    env.standin.forbidden_routes.add("create_folder")
    code, text = _run(capsys, env.args(manifests, FOLDER))
    assert code == ExitStatus.AUTH
    assert "not allowed" in text and "creating folder 'projects'" in text
    assert env.standin.requests_seen["create_folder"] == 1  # no retry of a 403
