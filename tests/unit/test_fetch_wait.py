"""The consumer's fetch wait follows the traffic: short while records flow, long after a quiet spell."""

from types import SimpleNamespace
from typing import Any

from shared.messaging.consumer import FetchWait


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_grows_after_a_quiet_spell_and_shrinks_with_the_first_records() -> None:
    fetcher = SimpleNamespace(_fetch_max_wait_ms=50)
    consumer: Any = SimpleNamespace(_fetcher=fetcher)
    clock = Clock()
    wait = FetchWait(consumer, clock)
    for second in (1, 5, 9.9):
        clock.now = second
        wait.polled(False)
        assert fetcher._fetch_max_wait_ms == 50 and not wait.idle
    clock.now = 10.0
    wait.polled(False)
    assert fetcher._fetch_max_wait_ms == 500 and wait.idle
    clock.now = 60.0
    wait.polled(True)
    assert fetcher._fetch_max_wait_ms == 50 and not wait.idle
    clock.now = 65.0
    wait.polled(False)  # records five seconds ago: still busy
    assert fetcher._fetch_max_wait_ms == 50


def test_a_consumer_without_the_fetcher_attribute_keeps_its_configured_wait() -> None:
    consumer: Any = SimpleNamespace(_fetcher=None)
    clock = Clock()
    wait = FetchWait(consumer, clock)
    clock.now = 30.0
    wait.polled(False)  # nothing to set: no error
    assert wait.idle
