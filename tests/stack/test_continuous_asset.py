"""The continuous-registration Lambda asset, built for real by the CDK's local bundling.

A small app with two functions using `handler_code`: one for this interpreter's Python (so the
asset can be imported here, in a clean interpreter that sees only the asset and what the
Lambda runtime provides), one for the construct's default runtime (whose compiled extensions
must be manylinux x86_64 builds for that Python). pip's result comes from the per-machine cache
(`lambda_dependencies` warms it once per session).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacks.continuous_bundle import (
    CACHE_ENV,
    HANDLER,
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    PACKAGE_DIR,
    DependencySet,
    LambdaBundleError,
    bundle_failure,
    dependencies_dir,
    python_version,
    tree_bytes,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: What every Lambda Python runtime provides besides the standard library (not shipped).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
#: Packages that modules the handler loads import somewhere (inside functions) but that are
#: not shipped, and why the handler never needs them. A new one fails the import test.
NOT_SHIPPED = {
    "jsonschema": "explains a registration file that fails the schema (manifest, files read back)",
    "jsonschema_rs": "validates registration files (manifest's writer, files read back); the "
    "handler submits typed items through the SDK, never a file",
}
#: An ELF file's machine field for x86-64.
ELF_X86_64 = 0x3E


def local_runtime() -> Any:
    from aws_cdk import aws_lambda as lambda_

    return getattr(lambda_.Runtime, f"PYTHON_{sys.version_info.major}_{sys.version_info.minor}")


def default_runtime() -> Any:
    from stacks.continuous import DEFAULT_RUNTIME

    return DEFAULT_RUNTIME


def synth_functions(out_dir: Path, runtimes: list[Any]) -> dict[str, Path]:
    """Synthesize one function per runtime; return each one's asset directory by runtime name."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from stacks.continuous_bundle import ARCHITECTURE, handler_code

    app = cdk.App(outdir=str(out_dir))
    stack = cdk.Stack(app, "AssetTest")
    for runtime in runtimes:
        lambda_.Function(
            stack,
            f"Handler{runtime.name.replace('.', '')}",
            runtime=runtime,
            handler=HANDLER,
            architecture=ARCHITECTURE,
            code=handler_code(runtime),
        )
    template = app.synth().get_stack_by_name("AssetTest").template
    assets: dict[str, Path] = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            key = resource["Properties"]["Code"]["S3Key"].removesuffix(".zip")
            assets[resource["Properties"]["Runtime"]] = out_dir / f"asset.{key}"
    return assets


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory, lambda_dependencies: None) -> dict[str, Path]:
    return synth_functions(tmp_path_factory.mktemp("cdk.out"), [local_runtime(), default_runtime()])


@pytest.fixture(scope="module")
def runtime_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the Lambda runtime's own packages: boto3 and what it needs, nothing else."""
    site = tmp_path_factory.mktemp("lambda-runtime")
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.submodule_search_locations, name
        (site / name).symlink_to(next(iter(spec.submodule_search_locations)))
    return site


#: Imports the handler, then what it imports lazily at run time (the Encord SDK, whose client
#: signs with cryptography), builds an SDK client with a throwaway key (nothing is sent), and
#: reports every loaded module that came from anywhere but the asset, the runtime's packages
#: or the standard library, and every package that a loaded module of the helper imports
#: anywhere (in a function too) and that cannot be found.
PROBE = """
import json, sys, sysconfig
asset, runtime = sys.argv[1], sys.argv[2]
sys.path[:0] = [asset, runtime]
module, _, name = sys.argv[3].rpartition(".")
handler = getattr(__import__(module, fromlist=[name]), name)
assert callable(handler), handler
import orjson, requests
import encord.exceptions, encord.http.constants, encord.orm.storage, encord.storage
from encord.user_client import EncordUserClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
key = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
).decode()
EncordUserClient.create_with_ssh_private_key(key, domain="http://127.0.0.1:9")
import boto3, encord, registration
boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
import ast, importlib.util


def imported_names(tree):
    # Top-level names of every import in `tree`, at any depth, but not for type checkers.
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in imported_names(child))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]
        yield from imported_names(node)


wanted = set()
for name, m in list(sys.modules.items()):
    if name.split(".")[0] == "registration" and getattr(m, "__file__", None):
        with open(m.__file__, encoding="utf-8") as source:
            wanted |= set(imported_names(ast.parse(source.read())))
unavailable = sorted(n for n in wanted if importlib.util.find_spec(n) is None)
paths = sysconfig.get_paths()
allowed = (asset, runtime, paths["stdlib"], paths["platstdlib"])
outside = sorted(
    name for name, m in list(sys.modules.items())
    if getattr(m, "__file__", None) and not m.__file__.startswith(allowed)
)
print(json.dumps({
    "outside": outside,
    "unavailable": unavailable,
    "registration": registration.__file__,
    "encord": encord.__file__,
    "boto3": boto3.__file__,
    "handler": handler.__module__,
}))
"""


def test_the_handler_imports_from_the_asset_in_a_clean_interpreter(
    assets: dict[str, Path], runtime_site: Path
) -> None:
    asset = assets[local_runtime().name]
    result = subprocess.run(
        # -I: no PYTHONPATH, no script directory; -S: no site-packages of this environment;
        # -B: no byte code written into the asset.
        [sys.executable, "-I", "-S", "-B", "-c", PROBE, str(asset), str(runtime_site), HANDLER],
        cwd=asset.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["outside"] == []
    assert report["unavailable"] == sorted(NOT_SHIPPED)
    assert report["registration"] == str(asset / "registration" / "__init__.py")
    assert report["encord"] == str(asset / "encord" / "__init__.py")
    assert report["boto3"].startswith(str(runtime_site))  # the runtime's, not shipped
    assert report["handler"] == HANDLER.rpartition(".")[0]


def test_the_asset_holds_the_registration_package_as_it_is(assets: dict[str, Path]) -> None:
    for asset in assets.values():
        shipped = {
            p.relative_to(asset / "registration"): p.read_bytes()
            for p in (asset / "registration").rglob("*")
            if p.is_file()
        }
        source = {
            p.relative_to(PACKAGE_DIR): p.read_bytes()
            for p in PACKAGE_DIR.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert shipped == source
        assert Path("encord/schemas/registration.schema.json") in shipped, (
            "package data"
        )  # package data


def test_no_tests_stand_in_byte_code_or_runtime_packages_are_shipped(
    assets: dict[str, Path],
) -> None:
    for asset in assets.values():
        names = {p.name for p in asset.iterdir()}
        assert not names & {"tests", "stacks", "bin", *RUNTIME_PROVIDED}, names
        for path in asset.rglob("*"):
            relative = path.relative_to(asset)
            assert path.name not in ("tests", "test", "__pycache__"), relative
            assert path.suffix not in (".pyc", ".pyo"), relative
            assert "standin" not in str(relative), relative


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == 2, f"{path}: not a 64-bit ELF file"
    return int.from_bytes(header[18:20], "little")


def _wheel_tags(dist_info: Path) -> list[str]:
    lines = (dist_info / "WHEEL").read_text().splitlines()
    if "Root-Is-Purelib: true" in lines:
        return []
    return [line.split(": ", 1)[1] for line in lines if line.startswith("Tag: ")]


def _tag_fits(tag: str, python: str) -> bool:
    """A wheel tag Lambda's CPython `python` (``313``) on x86_64 Linux loads."""
    interpreter, abi, platform = tag.split("-")
    if abi == "abi3":
        minimum = re.fullmatch(r"cp3(\d+)", interpreter)
        fits_python = minimum is not None and int(minimum.group(1)) <= int(python[1:])
    else:
        fits_python = interpreter == f"cp{python}" and abi == f"cp{python}"
    glibc = re.fullmatch(r"manylinux_2_(\d+)_x86_64", platform)
    fits_platform = platform in ("manylinux1_x86_64", "manylinux2010_x86_64") or (
        platform == "manylinux2014_x86_64" or (glibc is not None and int(glibc.group(1)) <= 17)
    )
    return fits_python and fits_platform


def test_the_default_runtime_asset_is_built_for_lambda(assets: dict[str, Path]) -> None:
    runtime = default_runtime()
    asset = assets[runtime.name]
    python = python_version(runtime).replace(".", "")
    compiled: dict[str, str] = {}  # extension file -> the distribution that installed it
    for dist_info in asset.glob("*.dist-info"):
        tags = _wheel_tags(dist_info)
        # A wheel may carry several tags (one build for several platforms): one must fit.
        assert not tags or any(_tag_fits(t, python) for t in tags), (dist_info.name, tags)
        for line in (dist_info / "RECORD").read_text().splitlines():
            path = line.split(",", 1)[0]
            if ".so" in Path(path).suffixes:
                assert tags, f"{path} comes from {dist_info.name}, which says it is pure Python"
                compiled[path] = dist_info.name
    extensions = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.so*"))
    assert extensions, "no compiled extension: the dependencies did not install"
    assert sorted(compiled) == extensions  # every one installed by a checked wheel
    for name in extensions:
        assert _elf_machine(asset / name) == ELF_X86_64, name
        in_vendored_libs = Path(name).parts[0].endswith(".libs")
        assert in_vendored_libs or re.search(
            rf"\.(cpython-{python}-x86_64-linux-gnu|abi3)\.so$", name
        ), name
    size = tree_bytes(asset)
    assert size <= LAMBDA_UNZIPPED_LIMIT_BYTES, f"{size / 2**20:.1f} MB"
    print(
        f"{runtime.name} asset: {size / 2**20:.1f} MB of {LAMBDA_UNZIPPED_LIMIT_BYTES / 2**20:.0f}"
    )


def test_the_assets_are_content_hashed(tmp_path: Path, assets: dict[str, Path]) -> None:
    """The same inputs give the same asset (no redeploy); each runtime gets its own build."""
    again = synth_functions(tmp_path, [local_runtime()])
    assert again[local_runtime().name].name == assets[local_runtime().name].name
    assert len({a.name for a in assets.values()}) == 2


# --- pip and its cache ----------------------------------------------------------------------


@pytest.fixture
def offline_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """pip with no index and an empty wheel directory: any install fails, as offline."""
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    yield tmp_path / "cache"


def test_a_failing_pip_is_explained_and_leaves_no_cache_entry(offline_pip: Path) -> None:
    deps = DependencySet(python_version="3.13")
    with pytest.raises(LambdaBundleError) as raised:
        dependencies_dir(deps)
    message = str(raised.value)
    assert "pip failed to install encord orjson for the continuous-registration Lambda" in message
    assert "Python 3.13 on manylinux2014_x86_64" in message
    assert "Connect to it and run again" in message and CACHE_ENV in message
    assert "Traceback" not in message
    assert list(offline_pip.iterdir()) == []  # the half-built entry is gone


def test_a_failing_pip_during_synthesis_can_be_reported_without_a_traceback(
    offline_pip: Path, tmp_path: Path
) -> None:
    """jsii turns the bundling error into a RuntimeError; `bundle_failure` finds ours in it."""
    from aws_cdk import aws_lambda as lambda_

    with pytest.raises(RuntimeError) as raised:
        synth_functions(tmp_path / "out", [lambda_.Runtime.PYTHON_3_12])
    failure = bundle_failure(raised.value)
    assert failure is not None and "pip failed to install" in str(failure)
    assert bundle_failure(RuntimeError("something else")) is None


def test_the_cache_answers_without_pip(tmp_path: Path) -> None:
    deps = DependencySet(python_version="3.13")
    entry = tmp_path / deps.key()
    (entry / "orjson").mkdir(parents=True)

    def no_pip(command: Any) -> Any:
        raise AssertionError("pip ran although the cache holds the result")

    assert dependencies_dir(deps, tmp_path, no_pip) == entry


def test_the_cache_key_covers_every_input(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("encord==0.1.211\n")
    base = DependencySet(python_version="3.13", constraints=lock)
    keys = {
        base.key(),
        DependencySet(python_version="3.12", constraints=lock).key(),
        DependencySet(python_version="3.13", constraints=lock, packages=("encord",)).key(),
        DependencySet(
            python_version="3.13", constraints=lock, platform="manylinux2014_aarch64"
        ).key(),
    }
    lock.write_text("encord==0.1.212\n")
    keys.add(base.key())
    assert len(keys) == 5


def test_a_missing_lock_file_is_explained(tmp_path: Path) -> None:
    deps = DependencySet(python_version="3.13", constraints=tmp_path / "requirements.lock")
    with pytest.raises(LambdaBundleError, match=r"cannot read .*requirements\.lock"):
        deps.key()


def test_only_python_runtimes_are_accepted() -> None:
    from aws_cdk import aws_lambda as lambda_

    assert python_version(lambda_.Runtime.PYTHON_3_13) == "3.13"
    with pytest.raises(ValueError, match=r"runtime nodejs20\.x cannot run it"):
        python_version(lambda_.Runtime.NODEJS_20_X)


def test_a_python_without_pip_is_explained(tmp_path: Path) -> None:
    def pip_missing(command: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", f"{command[0]}: No module named pip")

    with pytest.raises(LambdaBundleError, match=r"has no pip.*python -m ensurepip"):
        dependencies_dir(DependencySet(python_version="3.13"), tmp_path, pip_missing)


def test_a_build_a_killed_synthesis_left_behind_is_removed(tmp_path: Path) -> None:
    deps = DependencySet(python_version="3.13")
    abandoned, running = tmp_path / f".{deps.key()}-abandoned", tmp_path / f".{deps.key()}-now"
    for directory in (abandoned, running):
        (directory / "site").mkdir(parents=True)
    os.utime(abandoned, (0, 0))

    def install(command: Any) -> subprocess.CompletedProcess[str]:
        target = Path(command[command.index("--target") + 1])
        (target / "orjson").mkdir(parents=True)
        return subprocess.CompletedProcess(command, 0, "", "")

    entry = dependencies_dir(deps, tmp_path, install)
    assert (entry / "orjson").is_dir()
    assert not abandoned.exists() and running.exists()  # another synthesis may still be on it
