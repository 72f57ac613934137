"""Token buckets per key (an API token, a webhook provider): 429 with Retry-After when a bucket is empty.

Limits are per process: with N replicas behind a balancer, a key gets up to N times the rate.
"""

import math
import time
from dataclasses import dataclass

from shared.http.problems import Problem


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
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate

    def check(self, key: str, what: str) -> None:
        """Raise a 429 problem when `key` is over its rate."""
        wait = self.retry_after(key)
        if wait is not None:
            raise Problem(
                429,
                "Too many requests",
                f"{what} is over {self.rate:g} requests a second; retry after the delay",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
