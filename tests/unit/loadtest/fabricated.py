"""Comparisons made up in memory, for testing the arithmetic and the report without load."""

from __future__ import annotations

from pos_loadtest.comparison.locust_run import EndpointStats
from pos_loadtest.comparison.results import Comparison, RunResult
from pos_loadtest.comparison.scenario import ENDPOINT_ORDER, HEADLINE_ENDPOINT, MASTER_DATA_KIND


def rows(requests: int, seconds: float = 10.0, add_item_p50: float = 10.0) -> list[EndpointStats]:
    """A sale of one create, three items, subtotal, payment and bill: `requests` in all."""
    sales = requests // 7
    counts = {ENDPOINT_ORDER[0]: sales, HEADLINE_ENDPOINT: 3 * sales}
    counts |= {name: sales for name in ENDPOINT_ORDER[2:5]}
    made = [
        EndpointStats("POST", name, count, 0, count / seconds, 5.0, 9.0, 12.0, 6.0)
        for name, count in counts.items()
    ]
    made[1] = EndpointStats(
        "POST", HEADLINE_ENDPOINT, 3 * sales, 0, 3 * sales / seconds, add_item_p50, 20, 30, 11
    )
    made.append(
        EndpointStats(MASTER_DATA_KIND, f"http: {HEADLINE_ENDPOINT}", 3 * sales, 0, 0, 2, 4, 6, 2.5)
    )
    return made


def run(
    mode: str,
    round_number: int,
    requests: int = 700,
    cpu: dict[str, float] | None = None,
    operations: float | None = 1400.0,
    cart_count: float | None = 1390.0,
) -> RunResult:
    return RunResult(
        mode,
        round_number,
        rows(requests),
        cpu_seconds=cpu if cpu is not None else {"cart": 3.5, "master-data": 0.7},
        database_commands=cart_count,
        database_operations=operations,
        master_data_commands=70.0,
        stored_carts_at_start=0,
        seconds=10.0,
        users=16,
    )


def comparison(modes: list[str], runs: list[RunResult]) -> Comparison:
    return Comparison(
        started_at="2026-11-22T00:00:00+00:00",
        command="scripts/compare.sh (made up)",
        modes=[{"name": mode, "description": mode} for mode in modes],
        baseline=modes[0],
        settings={"rounds": max(r.round for r in runs)},
        environment={"cpuCount": 2},
        runs=runs,
    )
