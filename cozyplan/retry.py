"""Bounded retries with exponential backoff and full jitter for ``TemporaryError``."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from cozyplan.errors import TemporaryError

T = TypeVar("T")
_RNG = random.Random()
# a process forked from a warm command server must not replay its parent's jitter
os.register_at_fork(after_in_child=_RNG.seed)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base: float = 1.0  # seconds before the first retry
    cap: float = 30.0  # longest single wait
    time_scale: float = 1.0

    def delay(self, attempt: int, hint: float | None, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * (2**attempt))
        wait = rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never herd
        if hint is not None:
            wait = max(wait, hint)
        return wait * self.time_scale


async def retrying(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[int, TemporaryError, float], None] | None = None,
    rng: random.Random | None = None,
) -> T:
    rng = rng or _RNG
    attempt = 0
    while True:
        try:
            return await fn()
        except TemporaryError as exc:
            attempt += 1
            if attempt >= policy.attempts or exc.exhausted:
                raise
            wait = policy.delay(attempt - 1, exc.delay, rng)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            await asyncio.sleep(wait)
