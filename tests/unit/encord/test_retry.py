"""Backoff, jitter, bounds and classification of the retry policy."""

from __future__ import annotations

import random
import threading

import pytest
import requests
from encord import exceptions as ex

from registration.encord.failures import classify, translate
from registration.encord.retry import (
    RetriesExhausted,
    RetryPolicy,
    Stopped,
    Verdict,
    call_with_retry,
)
from registration.errors import AuthError, RemoteError, UsageError

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.004)


def test_delay_is_jittered_within_an_exponential_ceiling_and_capped():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # full jitter reaches near the ceiling
        assert len(set(delays)) > 150  # and is not a constant


def test_retry_after_is_a_floor_bounded_by_the_cap():
    policy = RetryPolicy(base_delay=0.01, max_delay=5.0)
    rng = random.Random(2)
    assert all(policy.delay(1, 3.0, rng) >= 3.0 for _ in range(50))
    assert policy.delay(1, 60.0, rng) == 5.0


def test_transient_failures_are_retried_until_success():
    calls: list[int] = []

    def flaky(attempt: int) -> str:
        calls.append(attempt)
        if attempt < 3:
            raise ex.UnknownException("boom")
        return "ok"

    assert call_with_retry(flaky, classify=classify, policy=FAST) == "ok"
    assert calls == [1, 2, 3]


def test_permanent_failure_is_raised_at_once():
    calls: list[int] = []

    def denied(attempt: int) -> None:
        calls.append(attempt)
        raise ex.AuthenticationError("no")

    with pytest.raises(ex.AuthenticationError):
        call_with_retry(denied, classify=classify, policy=FAST)
    assert calls == [1]


def test_attempts_are_bounded():
    def down(attempt: int) -> None:
        raise ex.RequestException("connection refused")

    with pytest.raises(RetriesExhausted) as info:
        call_with_retry(down, classify=classify, policy=FAST)
    assert info.value.attempts == FAST.max_attempts


def test_stop_event_ends_the_wait():
    stop = threading.Event()

    def fail_and_stop(attempt: int) -> None:
        stop.set()
        raise ex.UnknownException("500")

    with pytest.raises(Stopped):
        call_with_retry(
            fail_and_stop, classify=classify, policy=RetryPolicy(base_delay=30), stop=stop
        )


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ex.RateLimitExceededError(retry_after=2), True),
        (ex.UnknownException("502"), True),
        (ex.RequestException("dropped"), True),
        (ConnectionError("reset"), True),
        (requests.exceptions.ReadTimeout("slow"), True),
        (ex.TimeOutError("slow"), True),
        (ex.AuthenticationError("401"), False),
        (ex.AuthorisationError("403"), False),
        (ex.InvalidArgumentsError("400"), False),
        (ex.ResourceNotFoundError("404"), False),
        (ValueError("bug"), False),
    ],
)
def test_classification(exc, transient):
    verdict = classify(exc)
    assert verdict.transient is transient
    if isinstance(exc, ex.RateLimitExceededError):
        assert verdict == Verdict(True, 2.0)


def test_translation_to_the_helpers_errors():
    assert isinstance(translate(ex.AuthenticationError("x"), "listing", "d"), AuthError)
    assert isinstance(translate(ex.AuthorisationError("x"), "listing", "d"), AuthError)
    assert isinstance(translate(ex.ResourceNotFoundError("x"), "listing", "d"), UsageError)
    exhausted = translate(RetriesExhausted(3, ex.UnknownException("503")), "starting", "http://h")
    assert isinstance(exhausted, RemoteError)
    assert "3 attempts" in str(exhausted) and "http://h" in str(exhausted)
