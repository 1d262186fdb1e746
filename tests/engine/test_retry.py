"""Temporary errors are retried with bounded, jittered backoff; permanent ones are not."""

from __future__ import annotations

import asyncio
import random

import pytest

from cozyplan.errors import PermanentError, TemporaryError
from cozyplan.retry import RetryPolicy, retrying

FAST = RetryPolicy(attempts=5, base=1.0, cap=4.0, time_scale=0.001)


def test_temporary_errors_are_retried_until_success() -> None:
    calls = 0
    waits: list[float] = []

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise TemporaryError("can't lock file - got timeout")
        return "ok"

    result = asyncio.run(retrying(flaky, FAST, on_retry=lambda a, e, w: waits.append(w)))
    assert result == "ok" and calls == 4
    assert len(waits) == 3
    # exponential with equal jitter: each wait within [ceiling/2, ceiling], capped
    for attempt, wait in enumerate(waits):
        ceiling = min(FAST.cap, FAST.base * 2**attempt) * FAST.time_scale
        assert ceiling / 2 <= wait <= ceiling


def test_retries_are_bounded() -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise TemporaryError("503")

    with pytest.raises(TemporaryError):
        asyncio.run(retrying(down, FAST))
    assert calls == FAST.attempts


def test_permanent_errors_are_not_retried() -> None:
    calls = 0

    async def invalid() -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("400 parameter verification failed")

    with pytest.raises(PermanentError):
        asyncio.run(retrying(invalid, FAST))
    assert calls == 1


def test_delay_hint_is_respected_and_jitter_varies() -> None:
    rng = random.Random(7)
    waits = {FAST.delay(3, None, rng) for _ in range(20)}
    assert len(waits) > 1  # jitter: no thundering herd
    assert FAST.delay(0, 10.0, rng) == pytest.approx(10.0 * FAST.time_scale)


def test_errors_a_provider_already_retried_are_not_retried_again() -> None:
    calls = 0

    async def gave_up() -> None:
        nonlocal calls
        calls += 1
        raise TemporaryError("connection refused (after 7 attempts)", exhausted=True)

    with pytest.raises(TemporaryError):
        asyncio.run(retrying(gave_up, FAST))
    assert calls == 1
