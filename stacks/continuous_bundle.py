"""The continuous-registration Lambda's code, built without Docker.

The asset is the whole `registration` package (its source files and package data) plus the
packages the handler imports at run time (`RUNTIME_PACKAGES` and their dependencies),
installed by pip for the *Lambda's* platform rather than this machine's::

    pip install --platform manylinux2014_x86_64 --only-binary=:all: --implementation cp
        --python-version 3.13 --target DIR -c requirements.lock encord orjson

so a compiled dependency (orjson, pydantic-core, cryptography, ...) is the wheel built for
Lambda's Linux x86_64 and its Python, whatever machine synthesizes. The CDK's local bundling
(`ILocalBundling`, as `stacks.bucket_cors` does) runs it; Docker is never needed.

pip's result depends only on the lock file, the packages, the Python version and the platform
(`DependencySet`), so it is cached per machine under `cache_root()` (the user's cache
directory, or `CACHE_ENV`) and only the first synthesis pays for pip; every asset is a copy.

boto3 and botocore are not shipped: every Lambda Python runtime provides them, kept current by
AWS, and the handler uses only long-stable API calls (SQS, DynamoDB conditional writes and
transactions, Secrets Manager, S3 reads). A pinned copy would add about 100 MB unzipped (most
of the Lambda limit's headroom) and cold-start time for no behaviour we depend on.

The asset is hashed by its content (`AssetHashType.OUTPUT`): a change to the helper's code or
to the lock file deploys a new function version; an unchanged one deploys nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

#: The Lambda handler, as `lambda_.Function(handler=...)` takes it.
HANDLER: Final = "registration.continuous.handler.handler"
#: The instruction set the dependencies are built for; the function must use it.
ARCHITECTURE: Final = lambda_.Architecture.X86_64
#: pip's platform tag for `ARCHITECTURE`: glibc 2.17, which every Lambda Python runtime exceeds.
PLATFORM: Final = "manylinux2014_x86_64"
#: pip's implementation tag: CPython, the only Python Lambda runs.
IMPLEMENTATION: Final = "cp"
#: What the handler imports at run time beyond the standard library and boto3: the Encord
#: SDK (and so its dependencies: requests, cryptography, pydantic, ...) and orjson, which the
#: build stage imports at module level. The JSON Schema validators (jsonschema, jsonschema-rs)
#: serve `manifest`'s file writer only and are left out.
RUNTIME_PACKAGES: Final = ("encord", "orjson")
#: Lambda's limit on a function's unzipped code (layers included): 250 MB (of 2**20 bytes).
LAMBDA_UNZIPPED_LIMIT_BYTES: Final = 250 * 2**20
#: Environment variable naming the cache directory (default: see `cache_root`).
CACHE_ENV: Final = "ENCORD_REGISTER_LAMBDA_CACHE"
#: Part of the cache key: raise it when what is installed or trimmed changes.
BUNDLE_FORMAT: Final = 1
#: How long one pip run may take before it is given up.
PIP_TIMEOUT_SECONDS: Final = 900

_REPO_ROOT: Final = Path(__file__).resolve().parent.parent
#: The package shipped as source, and the pins of everything pip installs.
PACKAGE_DIR: Final = _REPO_ROOT / "registration"
REQUIREMENTS_LOCK: Final = _REPO_ROOT / "requirements.lock"
#: Never shipped: byte code of this machine's Python, editor and OS litter.
_IGNORED: Final = ("__pycache__", "*.pyc", "*.pyo", ".*")
#: Dropped from the installed dependencies: console scripts (Lambda never runs them) and the
#: test suites some packages ship inside themselves (never imported).
_TRIMMED_TOP: Final = ("bin",)
_TRIMMED_IN_PACKAGE: Final = ("tests", "test")
#: How much of pip's output an error shows.
_PIP_OUTPUT_TAIL_CHARS: Final = 2000

PipRunner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class LambdaBundleError(Exception):
    """The Lambda asset could not be built; the message says why and what to do."""


def python_version(runtime: lambda_.Runtime) -> str:
    """The runtime's Python version (``3.13`` for ``python3.13``); ValueError if not Python."""
    match = re.fullmatch(r"python(\d+\.\d+)", runtime.name)
    if runtime.family != lambda_.RuntimeFamily.PYTHON or match is None:
        raise ValueError(
            f"the continuous-registration handler is Python: runtime {runtime.name} cannot "
            "run it; use a Python runtime such as lambda_.Runtime.PYTHON_3_13"
        )
    return match.group(1)


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where pip results are cached: `CACHE_ENV`, else ``<user cache>/encord-s3-register/lambda``.

    The user cache is ``$XDG_CACHE_HOME`` when set, else ``~/.cache``.
    """
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "encord-s3-register" / "lambda"


@dataclass(frozen=True)
class DependencySet:
    """One pip result: what is installed, pinned by what, for which Python and platform."""

    python_version: str
    packages: tuple[str, ...] = RUNTIME_PACKAGES
    platform: str = PLATFORM
    constraints: Path = REQUIREMENTS_LOCK

    def key(self) -> str:
        """The cache key: a digest of every input of the pip run (and `BUNDLE_FORMAT`)."""
        digest = hashlib.sha256()
        for part in (
            f"format={BUNDLE_FORMAT}",
            f"python={self.python_version}",
            f"platform={self.platform}",
            f"implementation={IMPLEMENTATION}",
            "packages=" + ",".join(self.packages),
        ):
            digest.update(part.encode() + b"\n")
        digest.update(self._constraints_text().encode())
        return digest.hexdigest()[:24]

    def pip_command(self, target: Path) -> list[str]:
        """The pip command that installs the set into `target`."""
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--no-compile",  # byte code would be this machine's Python's, not the runtime's
            "--quiet",
            "--platform",
            self.platform,
            "--only-binary=:all:",
            "--implementation",
            IMPLEMENTATION,
            "--python-version",
            self.python_version,
            "--target",
            str(target),
            "-c",
            str(self.constraints),
            *self.packages,
        ]

    def _constraints_text(self) -> str:
        try:
            return self.constraints.read_text(encoding="utf-8")
        except OSError as exc:
            raise LambdaBundleError(
                f"cannot read {self.constraints} ({exc.strerror}): the continuous-registration "
                "Lambda installs its dependencies at the versions pinned there. Run the app "
                "from a checkout of the project (the file is at its root), or regenerate it "
                "with `make lock`"
            ) from None


def _run_pip(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_SECONDS,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def dependencies_dir(
    deps: DependencySet, root: Path | None = None, run: PipRunner = _run_pip
) -> Path:
    """The directory holding `deps` installed and trimmed: from the cache, else built by pip.

    The result is built beside its final place and renamed into it, so a crash or a parallel
    synthesis never leaves a half-built entry behind under the key.
    """
    root = cache_root() if root is None else root
    final = root / deps.key()
    if final.is_dir():
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(root, final.name)
        building = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
    except OSError as exc:
        raise LambdaBundleError(
            f"cannot create the Lambda dependency cache in {root} ({exc.strerror}): set "
            f"{CACHE_ENV} to a writable directory and run again"
        ) from None
    try:
        _install(deps, building / "site", run)
        _trim(building / "site")
        with contextlib.suppress(OSError):  # another synthesis finished first: use its copy
            (building / "site").rename(final)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    if not final.is_dir():
        raise LambdaBundleError(f"the Lambda dependency cache entry {final} did not appear")
    return final


def _remove_abandoned(root: Path, key: str) -> None:
    """Remove builds of `key` that a killed synthesis left behind (older than pip may take)."""
    too_old = time.time() - 2 * PIP_TIMEOUT_SECONDS
    for stale in root.glob(f".{key}-*"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < too_old:
                shutil.rmtree(stale, ignore_errors=True)


def _install(deps: DependencySet, target: Path, run: PipRunner) -> None:
    what = " ".join(deps.packages)
    where = f"Python {deps.python_version} on {deps.platform}"
    try:
        result = run(deps.pip_command(target))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LambdaBundleError(
            f"pip could not be run to install {what} for the continuous-registration Lambda "
            f"({where}): {exc}. Check that this Python ({sys.executable}) has pip, then run "
            "again"
        ) from None
    if result.returncode != 0:
        output = (result.stderr or result.stdout or "").strip()[-_PIP_OUTPUT_TAIL_CHARS:]
        if "No module named pip" in output:
            raise LambdaBundleError(
                f"this Python ({sys.executable}) has no pip, which builds the "
                f"continuous-registration Lambda's dependencies ({what}, {where}): install it "
                "(`python -m ensurepip`) and run again"
            )
        raise LambdaBundleError(
            f"pip failed to install {what} for the continuous-registration Lambda ({where}), "
            f"exit code {result.returncode}:\n{output}\n"
            "The wheels come from the package index (pip's own configuration applies: "
            "PIP_INDEX_URL for a mirror). Connect to it and run again: the result is cached in "
            f"{cache_root()} (set {CACHE_ENV} to move it), so later syntheses on this machine "
            "need no network"
        )


def _trim(site: Path) -> None:
    """Drop what Lambda never runs: scripts, byte code, packages' own test suites."""
    for name in _TRIMMED_TOP:
        shutil.rmtree(site / name, ignore_errors=True)
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for package in site.iterdir():
        if package.is_dir() and not package.name.endswith((".dist-info", ".libs")):
            for name in _TRIMMED_IN_PACKAGE:
                shutil.rmtree(package / name, ignore_errors=True)


def tree_bytes(root: Path) -> int:
    """The total size of the files under `root`: what Lambda counts against its limit."""
    return sum(p.stat().st_size for p in _files(root))


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def build_asset(output_dir: Path, deps: DependencySet, root: Path | None = None) -> int:
    """Write the asset into `output_dir`; return its unzipped size in bytes.

    Raises `LambdaBundleError` when a dependency cannot be installed or the asset would
    exceed `LAMBDA_UNZIPPED_LIMIT_BYTES`.
    """
    shutil.copytree(dependencies_dir(deps, root), output_dir, dirs_exist_ok=True)
    shutil.copytree(
        PACKAGE_DIR,
        output_dir / PACKAGE_DIR.name,
        ignore=shutil.ignore_patterns(*_IGNORED),
        dirs_exist_ok=True,
    )
    size = tree_bytes(output_dir)
    if size > LAMBDA_UNZIPPED_LIMIT_BYTES:
        raise LambdaBundleError(
            f"the continuous-registration Lambda asset is {_mb(size)} unzipped and Lambda "
            f"allows {_mb(LAMBDA_UNZIPPED_LIMIT_BYTES)}: a dependency grew; "
            f"check what {' '.join(deps.packages)} pull in (`pip install --dry-run -c "
            "requirements.lock ...`)"
        )
    return size


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def bundle_failure(exc: BaseException) -> LambdaBundleError | None:
    """The `LambdaBundleError` behind `exc`, if any.

    The CDK runs the bundling through jsii, which raises a RuntimeError (caused by a
    JavaScriptError) while the original is being handled: it is the RuntimeError's context.
    An app prints this one's message instead of a traceback.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        if isinstance(current, LambdaBundleError):
            return current
        seen.add(id(current))
        pending += [current.__cause__, current.__context__]
    return None


@jsii.implements(ILocalBundling)
class _LocalBundle:
    """The CDK's local bundling of the asset: `build_asset`; Docker is never needed."""

    def __init__(self, deps: DependencySet) -> None:
        self._deps = deps

    def try_bundle(self, output_dir: str, *_options: Any, **_kw: Any) -> bool:
        """Build the asset into `output_dir`; True: bundled."""
        size = build_asset(Path(output_dir), self._deps)
        print(
            f"continuous-registration Lambda asset: {_mb(size)} unzipped "
            f"(Lambda allows {_mb(LAMBDA_UNZIPPED_LIMIT_BYTES)}), "
            f"Python {self._deps.python_version} {self._deps.platform}",
            file=sys.stderr,
        )
        return True


def handler_code(runtime: lambda_.Runtime) -> lambda_.Code:
    """The continuous-registration handler's code for `runtime` (a Python runtime).

    Use it with ``handler=HANDLER`` and ``architecture=ARCHITECTURE``.
    """
    deps = DependencySet(python_version=python_version(runtime))
    return lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling"),
            local=_LocalBundle(deps),
            # The CDK reuses a bundled asset within one app when its source and bundling
            # options match, and it cannot see into `local`: these tell the builds apart.
            environment={
                "PYTHON_VERSION": deps.python_version,
                "PLATFORM": deps.platform,
                "PACKAGES": " ".join(deps.packages),
            },
        ),
    )
