"""Token buckets per key (an API token, a webhook provider): 429 with Retry-After when a bucket is empty.

Limits are per process: with N replicas behind a balancer, a key gets up to N times the rate.
"""

import math
import time
from dataclasses import dataclass

from shared.http.problems import Problem

_MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`rate` requests a second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def retry_after(self, key: str, now: float | None = None) -> float | None:
        """Take one request from `key`'s bucket; the seconds to wait when it is empty, else None."""
        bucket = self._refilled(key, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate

    def waiting(self, key: str, now: float | None = None) -> float | None:
        """The seconds `key` must wait before its next request, without taking one; None when it need not."""
        bucket = self._refilled(key, now)
        return None if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def _refilled(self, key: str, now: float | None) -> _Bucket:
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_KEYS:  # keys can be client addresses: forget the fullest buckets
                self._buckets = {k: b for k, b in self._buckets.items() if b.tokens < self.burst}
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def check(self, key: str, what: str) -> None:
        """Raise a 429 problem when `key` is over its rate."""
        wait = self.retry_after(key)
        if wait is not None:
            raise too_many(f"{what} is over {self.rate:g} requests a second; retry after the delay", wait)


def too_many(detail: str, wait: float) -> Problem:
    """A 429 problem with its Retry-After."""
    return Problem(429, "Too many requests", detail, headers={"Retry-After": str(max(1, math.ceil(wait)))})
