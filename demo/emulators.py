"""The two local emulators, for `make demo` and for walking the real-use path by hand.

    python -m demo.emulators [--work DIR] [--ssh-key-file PATH] [--integration TITLE]
                                                 (what `make emulators` runs)

starts, on loopback, as child processes:

- the local AWS emulator: moto's server with the project's test-side patches
  (`tests.emulators.moto_server`, each patch explained there), at ``http://localhost:PORT``;
- the local Encord stand-in (`python -m tests.standin`), with one cloud integration and the
  public half of an Encord key (a throwaway Ed25519 key is generated when none is given);

prints the environment to export in another terminal (dummy AWS credentials, the endpoint,
the Encord domain and key, ...; also written to ``WORK/env.sh``) and stays in the
foreground until Ctrl-C or SIGTERM, then stops both. `docs/local-walkthrough.md` walks
through `cdk bootstrap`, `cdk deploy`, `verify`, `manifest` and `register` against them.
Neither emulator is part of the product: production code does not know they exist.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from tests.emulators.moto_server import EMULATOR_ENV, REPO_ROOT, running_moto_server, stop_process
from tests.standin.keys import KeyFormatError, generate_ssh_key, openssh_public_line

#: The integration title `make emulators` creates in the stand-in.
DEFAULT_INTEGRATION = "Local S3 integration"
STARTUP_TIMEOUT_SECONDS = 60
#: Quieter CDK CLI, as the Makefile and the tests run it (no update check, no telemetry,
#: no end-of-life banner for Node 20).
CDK_QUIET_ENV = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "1",
}
#: Variables that would send the AWS SDKs and the CDK CLI to a real account instead.
UNSET_VARS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE")


class EmulatorError(Exception):
    """An emulator did not start; the message says which and where its log is."""


@dataclass(frozen=True)
class Emulators:
    """Running emulators: where they listen and how to reach them."""

    aws_endpoint: str
    """``http://localhost:PORT`` (localhost, not 127.0.0.1: see local-emulation notes)."""
    encord_domain: str
    """``http://127.0.0.1:PORT``, what `--encord-domain` / ``ENCORD_DOMAIN`` take."""
    key_file: Path
    """The Encord SSH private key whose public half the stand-in accepts."""
    integration: str
    """Title of the stand-in's cloud integration."""
    cdk_home: Path
    """A `CDK_HOME` of its own (the CDK CLI caches account lookups there)."""

    def env(self) -> dict[str, str]:
        """What to export to use the emulators: AWS SDKs, the CDK CLI and `encord-register`."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            **EMULATOR_ENV,
            "CDK_HOME": str(self.cdk_home),
            **CDK_QUIET_ENV,
            "ENCORD_DOMAIN": self.encord_domain,
            "ENCORD_SSH_KEY_FILE": str(self.key_file),
            "ENCORD_INTEGRATION": self.integration,
        }

    def shell_lines(self) -> list[str]:
        """The environment as bash lines: `unset` the real-account variables, then `export`."""
        return [
            "unset " + " ".join(UNSET_VARS),
            *(f"export {key}={shlex.quote(value)}" for key, value in self.env().items()),
        ]


def ensure_key(key_file: Path) -> Path:
    """Use the Ed25519 private key at `key_file`, generating a throwaway one if it is missing.

    Writes the public half next to it as ``KEY.pub`` (an OpenSSH public key line), which is
    what the stand-in is given; returns that path.
    """
    if not key_file.exists():
        key_text, _ = generate_ssh_key()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(key_text, encoding="ascii")
    public = key_file.with_name(key_file.name + ".pub")
    try:
        line = openssh_public_line(
            key_file.read_text(encoding="ascii"), comment="encord-register-emulators"
        )
    except (KeyFormatError, UnicodeDecodeError) as exc:
        raise EmulatorError(f"{key_file}: {exc}") from None
    public.write_text(line + "\n", encoding="ascii")
    return public


@contextlib.contextmanager
def running_standin(
    work: Path, public_key_file: Path, integration: str, job_latency: float = 0.3
) -> Iterator[str]:
    """The Encord stand-in as a child process; yields its domain (``http://127.0.0.1:PORT``)."""
    ready = work / "standin.ready"
    ready.unlink(missing_ok=True)
    log_path = work / "standin.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.standin",
                "--integration",
                integration,
                "--public-key-file",
                str(public_key_file),
                "--job-latency",
                str(job_latency),
                "--ready-file",
                str(ready),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
            while not ready.exists():
                if process.poll() is not None:
                    raise EmulatorError(f"the Encord stand-in exited early; see {log_path}")
                if time.monotonic() > deadline:
                    raise EmulatorError(
                        f"the Encord stand-in did not start within {STARTUP_TIMEOUT_SECONDS} s"
                    )
                time.sleep(0.1)
            yield ready.read_text(encoding="utf-8").split()[1]
        finally:
            stop_process(process)


@contextlib.contextmanager
def running_emulators(
    work: Path,
    *,
    key_file: Path,
    integration: str = DEFAULT_INTEGRATION,
    job_latency: float = 0.3,
) -> Iterator[Emulators]:
    """Both emulators as child processes, logging into `work`; both stopped on exit."""
    work.mkdir(parents=True, exist_ok=True)
    public_key_file = ensure_key(key_file)
    cdk_home = work / "cdk-home"
    cdk_home.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        moto = running_moto_server(log_file=work / "moto.log", timeout=STARTUP_TIMEOUT_SECONDS)
        try:
            endpoint = stack.enter_context(moto)
        except (RuntimeError, TimeoutError) as exc:
            raise EmulatorError(
                f"the local AWS emulator did not start: {exc}; see {work / 'moto.log'}"
            ) from None
        domain = stack.enter_context(
            running_standin(work, public_key_file, integration, job_latency)
        )
        yield Emulators(endpoint, domain, key_file, integration, cdk_home)


def _wait_for_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop.wait(3600):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m demo.emulators` (`make emulators`)."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.emulators",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="directory for logs, the key and CDK_HOME (default: a new temporary directory, "
        "deleted on exit)",
    )
    parser.add_argument(
        "--ssh-key-file",
        type=Path,
        help="an Ed25519 private key for Encord (default: a throwaway key generated as "
        "WORK/encord-key; also generated at this path if the file does not exist)",
    )
    parser.add_argument(
        "--integration",
        default=DEFAULT_INTEGRATION,
        help=f"title of the stand-in's AWS integration (default {DEFAULT_INTEGRATION!r})",
    )
    args = parser.parse_args(argv)
    made_work = args.work is None
    work: Path = (
        Path(tempfile.mkdtemp(prefix="encord-emulators-")) if made_work else args.work.resolve()
    )
    key_file: Path = (args.ssh_key_file or work / "encord-key").resolve()
    # Ctrl-C reaches the whole process group: the emulators stop on their own too, and this
    # process stops them explicitly (and waits) in any case.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with running_emulators(work, key_file=key_file, integration=args.integration) as emus:
            lines = emus.shell_lines()
            env_file = work / "env.sh"
            env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(
                f"local AWS (moto, patched as the tests do)  {emus.aws_endpoint}\n"
                f"Encord stand-in                            {emus.encord_domain}"
                f"  integration {emus.integration!r}\n"
                f"Encord key                                 {emus.key_file}\n"
                f"logs                                       {work}/moto.log, standin.log\n"
                "\n"
                "In another terminal, in the repository, run these lines "
                f"(or: source {env_file}):\n",
                flush=True,
            )
            print("\n".join(lines), flush=True)
            print(
                "\nThen follow docs/local-walkthrough.md. Ctrl-C stops both emulators "
                "(what they hold is lost).",
                flush=True,
            )
            _wait_for_signal()
            print("\nstopping the emulators...", flush=True)
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass  # interrupted while starting: the context managers stopped what had started
    finally:
        if made_work:
            shutil.rmtree(work, ignore_errors=True)
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
