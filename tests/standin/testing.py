"""Helpers for tests that run `encord-register register` against the stand-in."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.standin.keys import generate_ssh_key
from tests.standin.server import EncordStandIn

BUCKET_URL = "https://demo-bucket.s3.eu-west-1.amazonaws.com"
INTEGRATION_TITLE = "demo-s3"


@dataclass
class EncordEnv:
    """A running stand-in with a registered key written to a file."""

    standin: EncordStandIn
    key_text: str
    key_file: Path
    integration_id: str
    integration_title: str = INTEGRATION_TITLE

    def args(self, manifests: Path, folder: str, *extra: str) -> list[str]:
        """CLI arguments for `register` against this stand-in (fast retries)."""
        return [
            "register",
            "--manifests",
            str(manifests),
            "--ssh-key-file",
            str(self.key_file),
            "--encord-domain",
            self.standin.domain,
            "--integration",
            self.integration_title,
            "--folder",
            folder,
            "--retry-base-delay",
            "0.02",
            *extra,
        ]

    def items(self, folder_path: str) -> list[dict[str, Any]]:
        """The items in the folder at `folder_path` (empty when it does not exist)."""
        uid = self.standin.folder_uuid(folder_path)
        return self.standin.items_in_folder(uid) if uid else []


@contextmanager
def encord_env(
    tmp_path: Path,
    job_latency: float = 0.0,
    max_poll_hold: float = 0.5,
    concurrent_jobs: bool = False,
    job_latency_per_item: float = 0.0,
) -> Iterator[EncordEnv]:
    """Start a stand-in with one user key and one integration."""
    key_text, key_hex = generate_ssh_key()
    key_file = tmp_path / "encord-key"
    key_file.write_text(key_text, encoding="ascii")
    key_file.chmod(0o600)
    with EncordStandIn(
        job_latency=job_latency,
        max_poll_hold=max_poll_hold,
        concurrent_jobs=concurrent_jobs,
        job_latency_per_item=job_latency_per_item,
    ) as standin:
        standin.register_public_key(key_hex)
        integration_id = standin.add_integration(INTEGRATION_TITLE)
        yield EncordEnv(standin, key_text, key_file, integration_id)


def image_urls(prefix: str, count: int) -> list[str]:
    """`count` distinct image URLs under `prefix`."""
    return [f"{BUCKET_URL}/{prefix}/img-{n:05d}.jpg" for n in range(count)]


def write_manifest(
    directory: Path,
    index: int,
    images: Sequence[str] = (),
    videos: Sequence[str] = (),
    image_groups: Sequence[tuple[str, Sequence[str]]] = (),
    **flags: bool,
) -> Path:
    """Write `manifest-NNNNN.json` (Encord's JSON format); titles and metadata derive from URLs."""
    doc: dict[str, Any] = {}
    if images:
        doc["images"] = [
            {"objectUrl": u, "title": u.rsplit("/", 1)[1], "clientMetadata": {"source": u[-9:]}}
            for u in images
        ]
    if videos:
        doc["videos"] = [
            {"objectUrl": u, "title": u.rsplit("/", 1)[1], "clientMetadata": {"keyframes": [0]}}
            for u in videos
        ]
    if image_groups:
        doc["image_groups"] = [
            {"title": title, **{f"objectUrl_{i}": u for i, u in enumerate(urls)}}
            for title, urls in image_groups
        ]
    doc.update(flags)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"manifest-{index:05d}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def subprocess_env() -> dict[str, str]:
    """Environment for running the CLI as a subprocess from the repository root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORD_")}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cli_command(*args: str) -> list[str]:
    """`python -m registration ARGS` with this interpreter."""
    return [sys.executable, "-m", "registration", *args]
