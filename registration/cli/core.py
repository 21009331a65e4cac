"""`encord-register`: the entry point, and the one place exceptions become exit codes.

A thin dispatcher in the style of httpie: `main(argv) -> int` parses, hands the command a
`Console`, and maps the helper's errors, Ctrl-C and anything unexpected to a documented
exit status with a one-line message (the traceback only with `-v`).
"""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from registration.aws_errors import AUTH_CODES, error_code, error_message
from registration.cli.console import Console
from registration.cli.logs import configure_logging
from registration.cli.parser import build_parser
from registration.errors import RegisterError, troubleshooting
from registration.exit_codes import ExitStatus


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run `encord-register` with `argv`; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)  # -v: debug detail, credentials and signatures masked
    console = Console(json_mode=bool(getattr(args, "json", False)))
    if not getattr(args, "_run", None):
        parser.print_help(console.err)
        return ExitStatus.USAGE
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return int(args._run(args, console))
    except RegisterError as exc:
        default = None if exc.hint else exc.default_hint
        console.error(f"{exc}\n  hint: {default}" if default else str(exc))
        return int(exc.exit_status)
    except KeyboardInterrupt:
        console.notice("interrupted: progress is saved; run the same command again to resume.")
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitStatus.OK)
    except Exception as exc:  # the last line of defence against tracebacks
        if args.verbose:
            raise
        status, message = unexpected(exc)
        console.error(message)
        return int(status)
    finally:
        signal.signal(signal.SIGTERM, previous)


def unexpected(exc: Exception) -> tuple[ExitStatus, str]:
    """An exit status and a message for an exception no command translated (with a hint
    line where docs/troubleshooting.md has a section for it)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(exc, NoCredentialsError):
        return ExitStatus.AUTH, (
            "no AWS credentials found; configure them (AWS_PROFILE, environment variables, "
            "SSO or an instance role) and run again\n  hint: " + troubleshooting("credentials")
        )
    if isinstance(exc, NoRegionError):
        return ExitStatus.USAGE, "no AWS region configured; set AWS_REGION or pass --region"
    if isinstance(exc, EndpointConnectionError):
        return ExitStatus.REMOTE, f"cannot reach AWS: {exc}; check the network and AWS_ENDPOINT_URL"
    if isinstance(exc, ClientError):
        code = error_code(exc)
        text = f"AWS refused {exc.operation_name}: {code} {error_message(exc)}".strip()
        if code in AUTH_CODES:
            return ExitStatus.AUTH, (
                f"{text}; check the credentials' permissions\n  hint: "
                + troubleshooting("credentials")
            )
        return ExitStatus.REMOTE, text
    return ExitStatus.FAILURE, (
        f"internal error: {type(exc).__name__}: {exc} (a bug: run again with -v for the "
        "traceback and report it)\n  hint: " + troubleshooting("internal-errors")
    )


GC_THRESHOLDS = (50_000, 20, 10)
"""The cyclic collector's thresholds for a CLI process (Python's default: 700, 10, 10).

Registering a 10,000-item file makes tens of thousands of short-lived objects (the SDK's
models, parsed results); at the default a young collection runs every 700 allocations and
full collections keep re-walking the imported SDK, pydantic and botocore. Measured on the
register benchmark (50 files x 10,000 items, `--jobs 8`): about 5% less wall time."""


def tune_gc() -> None:
    """Freeze what is loaded so far out of the collector, and collect young objects less often.

    For the console-script process only: a program calling `main` keeps its own settings.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def entry_point() -> None:
    """Console-script entry: tune the collector for a batch process, exit with `main`'s code."""
    tune_gc()
    sys.exit(main())
