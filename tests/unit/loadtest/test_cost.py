"""Cost per request: per run, per mode over rounds, and paired against each mode's baseline."""

from __future__ import annotations

import math

import pytest

from pos_loadtest.report import cost
from pos_loadtest.report.stats import summarise
from tests.unit.loadtest.fabricated import comparison, run


def test_cpu_ms_per_request_divides_the_window_by_the_requests_counted() -> None:
    measured = run("grpc", 1, requests=700, cpu={"cart": 3.5, "master-data": 0.7, "locust": 1.4})
    assert measured.requests == 700
    assert cost.cpu_ms_per_request(measured, "cart") == pytest.approx(5.0)
    assert cost.cpu_ms_per_request(measured, "master-data") == pytest.approx(1.0)
    assert cost.cpu_ms_per_request(measured, "locust") == pytest.approx(2.0)
    # No database process behind MONGODB_URI: not measured, not zero.
    assert math.isnan(cost.cpu_ms_per_request(measured, "database"))
    # The services are what was measured of cart, master-data and the database; not locust.
    assert cost.services_cpu_ms_per_request(measured) == pytest.approx(6.0)


def test_database_operations_per_request_and_cart_s_own_count() -> None:
    measured = run("grpc", 1, requests=700, operations=1400.0, cart_count=None)
    assert cost.DATABASE_OPERATIONS.of_run(measured) == pytest.approx(2.0)
    assert math.isnan(cost.CART_COUNTED_COMMANDS.of_run(measured))


def test_a_mode_is_summarised_by_its_median_and_the_interval_of_its_mean() -> None:
    runs = [run("http", r, cpu={"cart": seconds}) for r, seconds in ((1, 3.5), (2, 4.2), (3, 2.8))]
    summary = cost.summary(comparison(["http"], runs), "http", cost.CPU_FIGURES[0])
    assert summary.median == pytest.approx(5.0)
    assert summary.rounds == 3
    # mean 5, sample sd 1, t(2) = 4.303: 5 +- 4.303 / sqrt(3); the low end stops at 0.
    assert summary.high == pytest.approx(5 + 4.303 / math.sqrt(3))
    assert summary.low == pytest.approx(5 - 4.303 / math.sqrt(3))


def test_a_cost_gets_no_negative_bound_and_one_round_no_interval() -> None:
    assert summarise([0.1, 5.0]).low == 0.0
    assert summarise([-1.0, 5.0]).low < 0
    single = summarise([2.0, math.nan])
    assert (single.median, single.rounds) == (2.0, 1)
    assert math.isnan(single.low)
    assert summarise([]).rounds == 0


def test_ratios_pair_rounds_and_older_code_is_compared_with_its_own_configuration() -> None:
    modes = ["http-aiohttp", "grpc", "grpc@old"]
    runs = []
    for r in (1, 2):
        runs.append(run("http-aiohttp", r, cpu={"cart": 1.0 * r}))
        runs.append(run("grpc", r, cpu={"cart": 2.0 * r}))
        runs.append(run("grpc@old", r, cpu={"cart": 3.0 * r}))
    compared = comparison(modes, runs)
    figure = cost.CPU_FIGURES[0]
    assert compared.baseline_of("grpc") == "http-aiohttp"
    assert compared.baseline_of("grpc@old") == "grpc"
    grpc = cost.ratio_to_baseline(compared, "grpc", figure)
    old = cost.ratio_to_baseline(compared, "grpc@old", figure)
    assert grpc.value == pytest.approx(2.0)
    assert old.value == pytest.approx(1.5)  # against grpc, not against http-aiohttp
    assert old.low == pytest.approx(1.5)  # the same ratio in both rounds: no spread


def test_older_code_without_its_current_configuration_falls_back_to_the_baseline() -> None:
    runs = [run("http-aiohttp", 1), run("grpc@old", 1)]
    assert comparison(["http-aiohttp", "grpc@old"], runs).baseline_of("grpc@old") == "http-aiohttp"
