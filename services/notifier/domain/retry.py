"""When a failed endpoint is tried again: exponential backoff with jitter, so endpoints that failed together
(a receiver's outage) are not all retried in the same second."""

import random


def next_delay_s(failures: int, *, max_delay_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `failures`-th failure in a row: 5 s, 10 s, 20 s, … capped at `max_delay_s`, each
    between half and all of that ("equal jitter"), so the wait grows every time and no two wait alike."""
    ceiling = min(max_delay_s, 5.0 * 2 ** min(max(failures, 1) - 1, 30))
    return (rng or random).uniform(ceiling / 2, ceiling)
