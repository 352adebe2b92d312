"""Cost per request: CPU-ms of each process, database operations and master-data calls, per
run and per mode; and how much of cart's lookups its item cache answered.

Per run, a figure is what the window used divided by the cart requests locust counted in it.
Per mode, the median over rounds and the 95 % interval of the mean (stats.summarise); against
the baseline, the ratio paired by round (stats.paired_ratio), as for throughput.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pos_loadtest.comparison.results import Comparison, RunResult
from pos_loadtest.report.stats import Ratio, Summary, paired_ratio, summarise

SERVICES = ("cart", "master-data", "database")
PROCESSES = (*SERVICES, "locust")


def cpu_ms_per_request(run: RunResult, process: str) -> float:
    """NaN when the process was not measured (the database behind MONGODB_URI)."""
    seconds = run.cpu_seconds.get(process)
    return math.nan if seconds is None else run.per_request(seconds * 1000)


def services_cpu_ms_per_request(run: RunResult) -> float:
    """What the system under test used per request: every measured service together."""
    measured = [run.cpu_seconds[name] for name in SERVICES if name in run.cpu_seconds]
    return run.per_request(sum(measured) * 1000) if measured else math.nan


def _cpu_of(process: str) -> Callable[[RunResult], float]:
    return lambda run: cpu_ms_per_request(run, process)


@dataclass(frozen=True)
class CostFigure:
    key: str
    label: str
    of_run: Callable[[RunResult], float]


CPU_FIGURES = tuple(CostFigure(p, f"{p} CPU-ms/request", _cpu_of(p)) for p in PROCESSES)
SERVICES_FIGURE = CostFigure(
    "services", "services CPU-ms/request (cart + master-data + database)",
    services_cpu_ms_per_request,
)  # fmt: skip
DATABASE_OPERATIONS = CostFigure(
    "database operations",
    "database operations/request (at the database)",
    lambda run: run.per_request(run.database_operations),
)
CART_COUNTED_COMMANDS = CostFigure(
    "cart's own count",
    "database commands/request (cart's /metrics)",
    lambda run: run.per_request(run.database_commands),
)
MASTER_DATA_CALLS = CostFigure(
    "master-data calls",
    "master-data calls/request (at master-data)",
    lambda run: run.per_request(run.master_data_calls),
)
COST_FIGURES = (
    *CPU_FIGURES, SERVICES_FIGURE, DATABASE_OPERATIONS, CART_COUNTED_COMMANDS, MASTER_DATA_CALLS,
)  # fmt: skip


def hit_ratio(run: RunResult) -> float:
    """cart's item cache: hits / lookups over the window; NaN where it counted none."""
    ratio = run.item_cache_hit_ratio
    return math.nan if ratio is None else ratio


def series(comparison: Comparison, mode: str, figure: CostFigure) -> list[float]:
    """The figure per round, in round order (for pairing)."""
    return [figure.of_run(run) for run in comparison.runs_of(mode)]


def summary(comparison: Comparison, mode: str, figure: CostFigure) -> Summary:
    return summarise(series(comparison, mode, figure))


def ratio_to_baseline(comparison: Comparison, mode: str, figure: CostFigure) -> Ratio:
    base = comparison.baseline_of(mode)
    return paired_ratio(series(comparison, mode, figure), series(comparison, base, figure))
