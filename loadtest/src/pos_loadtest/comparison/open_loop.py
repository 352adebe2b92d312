"""The open-loop phase's arithmetic: what to offer each mode, and what it achieved.

A mode's capacity is its closed-loop throughput (the median over rounds of all cart requests
per second: with no think time, the terminals keep cart saturated). The open loop offers a
share of it as sales started per second; a sale is a fixed sequence of calls, so the sales
per second are the requests per second divided by the calls a sale makes on average
(scenario.calls_per_sale: a cancelled sale makes fewer). Counting that from the closed-loop
windows instead would be off by the sales the window's edges cut.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from pos_loadtest.comparison.results import Comparison, RunResult


def capacity(comparison: Comparison, mode: str) -> float:
    """Requests per second the mode sustained closed-loop (median over rounds)."""
    values = [run.requests_per_second for run in comparison.runs_of(mode)]
    return statistics.median(values) if values else math.nan


@dataclass(frozen=True)
class OfferedLoad:
    share: float
    sales_per_second: float
    requests_per_second: float


def offered_load(capacity_rps: float, share: float, calls_per_sale: float) -> OfferedLoad:
    if not (capacity_rps > 0 and calls_per_sale > 0 and share > 0):
        raise ValueError(
            f"no load to offer: capacity {capacity_rps} req/s, {calls_per_sale} calls per sale"
        )
    requests_per_second = capacity_rps * share
    return OfferedLoad(share, requests_per_second / calls_per_sale, requests_per_second)


def achieved_sales_per_second(run: RunResult) -> float:
    return run.sales / run.seconds if run.seconds else math.nan
