"""What the open loop offers each mode, from its closed-loop rounds."""

from __future__ import annotations

import math

import pytest

from pos_loadtest.comparison.open_loop import achieved_sales_per_second, capacity, offered_load
from pos_loadtest.comparison.scenario import calls_per_sale
from tests.unit.loadtest.fabricated import comparison, run


def test_capacity_is_the_median_whole_flow_throughput_over_rounds() -> None:
    runs = [run("grpc", 1, requests=700), run("grpc", 2, requests=1400), run("grpc", 3, 2100)]
    compared = comparison(["grpc"], runs)
    # 700 requests in 10 s: 70 req/s; medians over 70, 140, 210.
    assert capacity(compared, "grpc") == pytest.approx(140.0)
    assert math.isnan(capacity(compared, "http-aiohttp"))


def test_a_sale_makes_its_calls_whether_paid_or_cancelled() -> None:
    # create + 5 items, then 10 % cancel (1 call) and 90 % subtotal, payment, bill (3 calls).
    assert calls_per_sale(items_per_cart=5, cancel_share=0.1) == pytest.approx(8.8)
    assert calls_per_sale(items_per_cart=2, cancel_share=1.0) == pytest.approx(4.0)


def test_a_share_of_capacity_is_offered_as_sales_per_second() -> None:
    offered = offered_load(capacity_rps=140.0, share=0.5, calls_per_sale=7.0)
    assert offered.requests_per_second == pytest.approx(70.0)
    assert offered.sales_per_second == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("capacity_rps", "share", "calls"),
    [(0.0, 0.5, 7.0), (math.nan, 0.5, 7.0), (10, 0, 7), (10, 1, 0)],
)
def test_nothing_to_offer_is_refused(capacity_rps: float, share: float, calls: float) -> None:
    with pytest.raises(ValueError, match="no load to offer"):
        offered_load(capacity_rps, share, calls)


def test_achieved_sales_are_the_sales_started_in_the_window() -> None:
    assert achieved_sales_per_second(run("grpc", 1, requests=700)) == pytest.approx(10.0)
