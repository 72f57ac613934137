"""Heartbeats of a process's long-running loops (outbox relay, consumers), for the liveness probe.

An event loop that answers HTTP can still hold a loop stuck for good in one await: a statement that never
returns, a client that retries forever inside a library. Each loop beats on every turn, waiting turns included
(the broker away, the database down, a standby waiting for the relay lock), so a beat stops only when the loop
is stuck; `/healthz` then fails and the orchestrator restarts the process. Outages do not stop the beats, so
they never cause restarts that could not help.
"""

import time
from collections.abc import Callable


class Heartbeats:
    """The last beat of each named loop of this process."""

    def __init__(self, stale_after_s: float) -> None:
        self.stale_after_s = stale_after_s
        self._last: dict[str, float] = {}

    def beat(self, name: str) -> None:
        """`name`'s loop made a turn."""
        self._last[name] = time.monotonic()

    def beater(self, name: str) -> Callable[[], None]:
        """What `name`'s loop calls on every turn. The watch on a loop starts with its first beat (the runtime
        gives it when it starts the loop's task), so a loop a process does not run is never judged."""
        return lambda: self.beat(name)

    def stale(self) -> dict[str, float]:
        """Loops whose last beat is older than `stale_after_s`, with its age in seconds."""
        now = time.monotonic()
        return {name: round(now - at, 1) for name, at in self._last.items() if now - at > self.stale_after_s}
