"""The comparison's statistics: paired ratios with intervals, and verdicts."""

from __future__ import annotations

import math

import pytest

from pos_loadtest.report.stats import paired_ratio, percentile, t95


def test_identical_rounds_give_a_tight_ratio_of_one() -> None:
    ratio = paired_ratio([100.0, 110.0, 90.0], [100.0, 110.0, 90.0])
    assert ratio.value == pytest.approx(1.0)
    assert ratio.low == pytest.approx(1.0)
    assert ratio.high == pytest.approx(1.0)
    assert not ratio.significant


def test_a_consistent_difference_is_beyond_the_noise() -> None:
    # Every round: B is 20 % faster; logs all equal ln 0.8, so the interval collapses on 0.8.
    ratio = paired_ratio([80.0, 88.0, 72.0], [100.0, 110.0, 90.0])
    assert ratio.value == pytest.approx(0.8)
    assert ratio.significant
    assert ratio.describe(lower_is_better=True) == "better, beyond the noise"
    assert ratio.describe(lower_is_better=False) == "worse, beyond the noise"


def test_a_noisy_difference_is_within_the_noise() -> None:
    ratio = paired_ratio([80.0, 120.0, 95.0], [100.0, 100.0, 100.0])
    assert ratio.low < 1 < ratio.high
    assert ratio.describe(lower_is_better=True).startswith("within the noise")


def test_interval_uses_students_t() -> None:
    # logs: ln 1.1, ln 1.2, ln 1.3; mean m, sd s, half width t(2) * s / sqrt(3)
    logs = [math.log(1.1), math.log(1.2), math.log(1.3)]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    half = 4.303 * sd / math.sqrt(3)
    ratio = paired_ratio([1.1, 1.2, 1.3], [1.0, 1.0, 1.0])
    assert ratio.value == pytest.approx(math.exp(mean))
    assert ratio.low == pytest.approx(math.exp(mean - half))
    assert ratio.high == pytest.approx(math.exp(mean + half))


def test_one_round_has_no_interval_and_missing_values_are_skipped() -> None:
    single = paired_ratio([2.0], [1.0])
    assert single.value == pytest.approx(2.0)
    assert math.isnan(single.low)
    assert single.describe(lower_is_better=True).startswith("one round only")
    skipped = paired_ratio([2.0, math.nan, 0.0], [1.0, 1.0, 1.0])
    assert skipped.rounds == 1
    assert math.isnan(paired_ratio([], []).value)


def test_t_table() -> None:
    assert t95(1) == pytest.approx(12.706)
    assert t95(2) == pytest.approx(4.303)
    assert t95(11) == pytest.approx(2.228)  # conservative: the value for 10
    assert t95(100) == pytest.approx(1.96)
    assert math.isinf(t95(0))


def test_percentiles_are_linear_between_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 5.0
    assert percentile(values, 0.25) == 2.0
    # 20 values: the p99 lies between the two largest, nearer the largest.
    twenty = [float(n) for n in range(1, 21)]
    assert percentile(twenty, 0.99) == pytest.approx(19.81)
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))
    assert math.isnan(percentile([1.0], 1.5))
