"""The open loop's arrival schedule: sales due at fixed moments, whoever takes them."""

from __future__ import annotations

import math

import pytest

from pos_loadtest.comparison.scenario import ArrivalSchedule


def test_moments_are_one_interval_apart_from_the_first_taker() -> None:
    schedule = ArrivalSchedule(per_second=4)
    assert [schedule.take(now=10.0) for _ in range(3)] == [10.0, 10.25, 10.5]


def test_the_schedule_does_not_wait_for_late_takers() -> None:
    # Every terminal was busy until 11.0: the moments due meanwhile are still owed, and start
    # late (the run reports how late); the schedule does not slide.
    schedule = ArrivalSchedule(per_second=2)
    assert schedule.take(now=10.0) == 10.0
    assert schedule.take(now=11.0) == 10.5
    assert schedule.take(now=11.0) == 11.0
    assert schedule.take(now=11.0) == 11.5


def test_forgiving_the_backlog_drops_missed_moments_only() -> None:
    schedule = ArrivalSchedule(per_second=10)
    schedule.take(now=0.0)
    schedule.forgive_backlog(now=5.0)
    assert schedule.take(now=5.0) == 5.0
    assert schedule.take(now=5.0) == pytest.approx(5.1)
    # Moments already ahead of now are kept as they are.
    schedule.forgive_backlog(now=5.05)
    assert schedule.take(now=5.05) == pytest.approx(5.2)


def test_forgiving_before_any_take_changes_nothing() -> None:
    schedule = ArrivalSchedule(per_second=1)
    schedule.forgive_backlog(now=3.0)
    assert schedule.take(now=7.0) == 7.0


@pytest.mark.parametrize("rate", [0.0, -1.0, math.inf, math.nan])
def test_a_rate_must_be_positive_and_finite(rate: float) -> None:
    with pytest.raises(ValueError, match="arrival rate"):
        ArrivalSchedule(per_second=rate)
