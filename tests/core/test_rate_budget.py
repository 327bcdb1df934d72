"""RateBudget: a token bucket that spends what the API says is left in its window."""

from __future__ import annotations

import pytest
from shipsync.http import RateBudget


class Clock:
    """A clock that moves only when the budget sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def budget(clock: Clock, **kwargs: float) -> RateBudget:
    options = {"rate": 5.0, "burst": 15.0, "reserve": 0, **kwargs}
    return RateBudget(rate=options["rate"], burst=options["burst"],
                      reserve=int(options["reserve"]), clock=clock, sleep=clock.sleep)


def spend(bucket: RateBudget, count: int) -> None:
    for _ in range(count):
        bucket.acquire()


def test_before_any_header_it_paces_at_the_configured_rate_after_its_burst(clock: Clock) -> None:
    bucket = budget(clock)
    spend(bucket, 15)
    assert clock.slept == []  # the burst goes at once
    spend(bucket, 5)
    assert sum(clock.slept) == pytest.approx(1.0)  # then 5 per second


def test_what_is_left_in_the_window_may_be_spent_at_once(clock: Clock) -> None:
    bucket = budget(clock, reserve=4)
    bucket.acquire()
    # BigCommerce: 149 of 150 left, the window resets in 29.9 s.
    bucket.update(left=149, reset_s=29.9, quota=150, window_s=30.0)
    spend(bucket, 145)
    assert clock.slept == []  # 149 left less the reserve of 4: no waiting
    bucket.update(left=4, reset_s=29.0, quota=150, window_s=30.0)
    bucket.acquire()
    # At the reserve nobody sends until the window resets.
    assert sum(clock.slept) == pytest.approx(29.0, abs=0.01)


def test_a_count_without_reset_time_can_only_lower_the_tokens(clock: Clock) -> None:
    bucket = budget(clock)
    bucket.update(left=100)
    assert bucket.tokens == 15.0  # not raised to 100
    bucket.update(left=3)
    assert bucket.tokens == 3.0


def test_the_reserve_is_left_for_calls_in_flight_and_other_apps(clock: Clock) -> None:
    bucket = budget(clock, reserve=50)
    bucket.update(left=60, reset_s=10.0, quota=150, window_s=30.0)
    assert bucket.tokens == 10.0
    spend(bucket, 10)
    assert clock.slept == []
    bucket.update(left=50, reset_s=9.0, quota=150, window_s=30.0)
    bucket.acquire()
    assert sum(clock.slept) == pytest.approx(9.0, abs=0.01)


def test_after_a_429_nobody_sends_until_the_wait_is_over(clock: Clock) -> None:
    bucket = budget(clock)
    bucket.block_for(3.0)
    bucket.acquire()
    assert sum(clock.slept) >= 3.0


def test_the_server_quota_replaces_the_configured_rate(clock: Clock) -> None:
    bucket = budget(clock, rate=5.0)
    bucket.update(quota=450, window_s=30.0)  # a Pro plan store
    assert bucket.rate == pytest.approx(15.0)
    assert bucket.burst == 450.0
