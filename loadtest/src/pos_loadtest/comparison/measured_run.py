"""One measured run: the database put back to its starting state, a fresh cart for the mode,
locust for the warm-up and the window, and every probe on that window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient

from pos_devstack.processes import LOOPBACK, free_port
from pos_loadtest.comparison.fresh_state import reset_cart_data, stored_carts
from pos_loadtest.comparison.locust_run import LoadSettings, Probe, measure_window, start_locust
from pos_loadtest.comparison.modes import Mode
from pos_loadtest.comparison.results import RunResult
from pos_loadtest.probes.cpu import CpuProbe, per_request_ms
from pos_loadtest.probes.database_operations import (
    COMMANDS,
    OpcounterProbe,
    cart_operations,
    commands_sent,
)
from pos_loadtest.probes.lookups import CALLS, HITS, MISSES, item_cache_lookups, master_data_calls
from pos_loadtest.probes.process import environment_variable
from pos_loadtest.probes.prometheus import GrowthProbe
from pos_loadtest.stacks.comparison import ComparisonStack

CART_START_SECONDS = 120.0
"""How long locust waits for cart to answer (cart's own start is bounded by devstack)."""


@dataclass
class RunPlan:
    mode: Mode
    load: LoadSettings
    label: str
    """Names the run's logs and files (unique within a comparison)."""
    round: int = 1
    seed: int = 1


def measure(
    stack: ComparisonStack,
    database: MongoClient[dict[str, Any]],
    plan: RunPlan,
    extra_probes: Sequence[Probe] = (),
) -> RunResult:
    """The run of `plan`; `extra_probes` (a profiler) are opened on the same window, given the
    pids of cart, master-data, the database (when embedded) and locust."""
    reset_cart_data(database, stack.tenant_id)
    carts_at_start = stored_carts(database, stack.tenant_id)
    port = free_port()
    # locust starts (and waits for cart to answer) while cart starts: each takes seconds.
    locust = start_locust(
        f"http://{LOOPBACK}:{port}", stack.keys_file, stack.items_file, plan.load,
        stack.work / plan.label, seed=plan.seed, idempotency_keys=plan.mode.idempotency_keys,
        wait_for_host_seconds=CART_START_SECONDS,
    )  # fmt: skip
    try:
        with stack.cart(plan.mode, name=f"cart-{plan.label}", http_port=port) as cart:
            # Where cart's code came from: a baseline's checkout, or (unset) the installed one.
            cart_code = environment_variable(cart.process.pid, "PYTHONPATH")
            watched = {"cart": cart.process.pid, "master-data": stack.master.process.pid}
            if stack.database is not None:
                watched["database"] = stack.database.pid
            cpu = CpuProbe({})
            cart_commands = GrowthProbe(f"{cart.url}/metrics", commands_sent)
            master_data_commands = GrowthProbe(f"{stack.master.url}/metrics", commands_sent)
            operations = OpcounterProbe(database)
            lookups = GrowthProbe(f"{stack.master.url}/metrics", master_data_calls)
            cache = GrowthProbe(f"{cart.url}/metrics", item_cache_lookups)
            probes: list[Probe] = [
                cpu,
                cart_commands,
                master_data_commands,
                operations,
                lookups,
                cache,
            ]
            window = measure_window(locust, [*probes, *extra_probes], pids=watched)
    finally:
        locust.stop()
    return RunResult(
        plan.mode.name,
        plan.round,
        window.rows,
        cpu_seconds=cpu.used,
        cpu_processes=cpu.commands,
        database_commands=_grown(cart_commands, COMMANDS),
        database_operations=None
        if operations.grown is None
        else cart_operations(operations.grown, _grown(master_data_commands, COMMANDS)),
        master_data_commands=_grown(master_data_commands, COMMANDS),
        master_data_calls=None if lookups.grown is None else lookups.grown[CALLS],
        item_cache_hits=None if cache.grown is None else cache.grown[HITS],
        item_cache_misses=None if cache.grown is None else cache.grown[MISSES],
        stored_carts_at_start=carts_at_start,
        cart_pythonpath=cart_code,
        seconds=window.seconds,
        users=plan.load.users,
    )


def _grown(probe: GrowthProbe, figure: str) -> float | None:
    return None if probe.grown is None else probe.grown[figure]


def describe(run: RunResult) -> str:
    """One line for the console while the comparison runs."""
    costs = per_request_ms(run.cpu_seconds, run.requests)
    parts = [f"{run.requests} requests ({run.requests_per_second:.0f}/s)"]
    parts.append("CPU-ms per request: " + ", ".join(f"{n} {ms:.2f}" for n, ms in costs.items()))
    if run.database_operations is not None:
        operations = run.per_request(run.database_operations)
        parts.append(f"database operations per request {operations:.2f}")
    if run.database_commands is not None:
        parts.append(f"cart's count {run.per_request(run.database_commands):.2f}")
    if run.master_data_calls is not None:
        parts.append(f"master-data calls per request {run.per_request(run.master_data_calls):.3f}")
    ratio = run.item_cache_hit_ratio
    parts.append("cache hit ratio " + ("n/a" if ratio is None else f"{ratio:.3f}"))
    return "    " + "; ".join(parts)
