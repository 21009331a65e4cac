"""What an SDK failure means: retry it or not, and the helper's own error to report it with.

Transient: rate limits (with the server's `Retry-After`), 5xx, timeouts, dropped
connections. Everything else becomes one of the helper's errors, with a hint saying what
to check.
"""

from __future__ import annotations

from registration.encord.connection import AUTH_HINT
from registration.encord.retry import RetriesExhausted, Verdict
from registration.errors import AuthError, RegisterError, RemoteError, UsageError


class RequestRejected(RegisterError):
    """Encord refused a request as invalid (400/413): retrying the same request cannot help."""

    exit_status = UsageError.exit_status


class JobLost(RegisterError):
    """Encord no longer knows a job we recorded; the file must be sent again."""


def classify(exc: BaseException) -> Verdict:
    """Transient (rate limits, 5xx, timeouts, dropped connections) or not."""
    import requests
    from encord import exceptions as ex

    if isinstance(exc, ex.RateLimitExceededError):
        return Verdict(True, float(exc.retry_after) if exc.retry_after else None)
    transient = (
        ex.RequestException,
        ex.UnknownException,
        ex.GenericServerError,
        ex.TimeOutError,
        requests.exceptions.RequestException,
        ConnectionError,
        TimeoutError,
    )
    return Verdict(isinstance(exc, transient))


def translate(exc: BaseException, action: str, domain: str) -> RegisterError:
    """The helper's own error for an SDK failure while doing `action`."""
    from encord import exceptions as ex

    if isinstance(exc, RegisterError):
        return exc
    if isinstance(exc, RetriesExhausted):
        return RemoteError(
            f"Encord at {domain} kept failing while {action} "
            f"({exc.attempts} attempts; last error: {_message(exc.last)})",
            hint="check the network and --encord-domain; re-run the same command to resume",
        )
    if isinstance(exc, ex.AuthenticationError):
        return AuthError(f"Encord rejected the key while {action}", hint=AUTH_HINT)
    if isinstance(exc, ex.AuthorisationError):
        return AuthError(
            f"the key is not allowed to do this while {action}: {_message(exc)}",
            hint="ask an Encord admin for access to the folder and the integration",
        )
    if isinstance(exc, ex.ResourceNotFoundError):
        return UsageError(f"not found while {action}: {_message(exc)}")
    if isinstance(exc, ex.InvalidArgumentsError | ex.PayloadTooLargeError):
        return RequestRejected(f"Encord rejected the request while {action}: {_message(exc)}")
    if isinstance(exc, ex.EncordException):
        return RemoteError(f"Encord error while {action}: {_message(exc)}")
    return RemoteError(f"unexpected failure while {action}: {type(exc).__name__}: {exc}")


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc).strip()
