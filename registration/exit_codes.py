"""Exit codes of `encord-register`: one enum, documented in `--help` and docs/exit-codes.md."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What the process exit code means. Every command uses these and nothing else."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    PARTIAL = 3
    AUTH = 4
    REMOTE = 5
    CHECKS_FAILED = 6
    INTERRUPTED = 130


EXIT_STATUS_MEANING: dict[ExitStatus, str] = {
    ExitStatus.OK: "everything asked for was done (all units registered, all checks passed)",
    ExitStatus.FAILURE: "an unexpected internal error (a bug: please report it with the message)",
    ExitStatus.USAGE: "configuration or usage error: bad flags, bad input, missing resources",
    ExitStatus.PARTIAL: "the run finished but some units failed to register; see the report",
    ExitStatus.AUTH: "authentication or permission error (Encord key, AWS credentials, access)",
    ExitStatus.REMOTE: "a remote service stayed unreachable after retries, or a registration job "
    "was still running at --job-deadline; re-run to resume",
    ExitStatus.CHECKS_FAILED: "`verify` found a problem, or `schema` found unresolved conflicts",
    ExitStatus.INTERRUPTED: "stopped by Ctrl-C/SIGTERM; state is saved, re-run to resume",
}


def describe_exit_codes() -> str:
    """A human table of the exit codes, for `--help` epilogues (and docs/exit-codes.md)."""
    lines = ["exit codes:"]
    lines += [f"  {s.value:>3}  {EXIT_STATUS_MEANING[s]}" for s in ExitStatus]
    return "\n".join(lines)
