"""The helper's exceptions: one root, a short flat list of kinds, each mapped to an exit code.

Only `registration.cli` turns these into messages and exit codes. Raise them with a
message that says what was wrong and what to do; `hint` carries the "what to do" part
when it is long. Without one, the CLI adds the kind's `default_hint` (its section of
the troubleshooting page), when
docs/troubleshooting.md has one for it, and no hint otherwise (a generic "see the docs"
helps nobody).
"""

from __future__ import annotations

from typing import Any, Final

from registration.exit_codes import ExitStatus

TROUBLESHOOTING_PAGE: Final = "docs/troubleshooting.md"


def troubleshooting(anchor: str) -> str:
    """A hint sending the user to one section of docs/troubleshooting.md.

    Every anchor passed here (always as a literal) is checked against the page's headings
    by tests/unit/cli/test_hints.py.
    """
    return f"see {TROUBLESHOOTING_PAGE}#{anchor}"


class RegisterError(Exception):
    """Root of every error the helper reports to the user without a traceback."""

    exit_status: ExitStatus = ExitStatus.FAILURE
    default_hint: str | None = None
    """The hint the CLI adds when the error has none of its own (None: no hint)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with every attribute, whatever the subclass's `__init__` takes: a worker
        process of the parallel build raises these into the main one."""
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(kind: type[RegisterError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class UsageError(RegisterError):
    """Bad flags, bad configuration, or input that cannot be used (corrupt file, bad pattern)."""

    exit_status = ExitStatus.USAGE


class InputError(UsageError):
    """An input file or listing could not be read or is malformed; names the source."""

    def __init__(self, message: str, *, source: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.source = source


class AuthError(RegisterError):
    """Credentials are missing or invalid, or access was denied."""

    exit_status = ExitStatus.AUTH
    default_hint = troubleshooting("credentials")


class RemoteError(RegisterError):
    """A remote service (S3, Encord) kept failing or could not be reached."""

    exit_status = ExitStatus.REMOTE


class ChecksFailed(RegisterError):
    """`verify` found failing checks, or `schema` found unresolved conflicts."""

    exit_status = ExitStatus.CHECKS_FAILED
