"""The report's cost sections: CPU-ms per request of each process, database operations and
master-data calls per request and the item cache's hit ratio, per mode next to its
throughput and latency, and the stacked chart of CPU."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from pos_loadtest.comparison.modes import Mode, current_mode_name, setting_of
from pos_loadtest.comparison.results import Comparison
from pos_loadtest.comparison.scenario import HEADLINE_ENDPOINT
from pos_loadtest.report import cost
from pos_loadtest.report.charts import plt, save
from pos_loadtest.report.format import NOT_MEASURED, Section, fmt, fmt_summary
from pos_loadtest.report.stats import summarise

CHART = "cost.png"
LOOKUPS_HEADING = "Cost per request: master-data calls and the item cache (closed loop)"

CPU_HEADER = [
    "mode", "req/s", "add-item p50 ms",
    *(f"{process} CPU-ms/req" for process in cost.PROCESSES), "services CPU-ms/req",
]  # fmt: skip
OPERATIONS_HEADER = [
    "mode", "database operations/req (at the database)", "cart's own count/req",
    "master-data commands/req", "stored carts at start",
]  # fmt: skip

CPU_NOTE = (
    "CPU seconds each process used over exactly the measured window (utime + stime from "
    "/proc/<pid>/stat, of the process and its children), divided by the cart requests locust "
    "counted in that window, in ms. services = cart + master-data + database; locust is the "
    "load generator, on the same cores. Per mode: the median over rounds, in brackets the "
    "95 % interval of the mean (Student's t). Ratios to the baseline, paired by round, are "
    "in the ratios table."
)
OPERATIONS_NOTE = (
    "At the database: the growth of serverStatus opcounters (insert + query + update + delete "
    "+ getmore + command) over the window, less master-data's commands (its /metrics) and the "
    "probe's own serverStatus, per cart request. The same measure for every mode, whatever "
    "code cart runs. It also holds the drivers' monitoring hellos and the handshakes of "
    "connections opened in the window, which cart's own count (its mongodb_commands_total, "
    "where its code has one) does not."
)

LOOKUPS_HEADER = [
    "mode", "item cache", "master-data calls/req (at master-data)", "cache hit ratio",
]  # fmt: skip
LOOKUPS_NOTE = (
    "master-data calls: the item-detail and payment-method requests master-data answered over "
    "the window, over HTTP (its http_request_duration_seconds_count of those routes) and gRPC "
    "(grpc_server_handled_total of GetItemDetail, BatchGetItemDetails, GetPaymentMethod), per "
    "cart request; the median over rounds and the 95 % interval of the mean. Cache hit ratio: "
    "cart's item_cache_hits_total / (hits + misses) over the window, the median over rounds "
    "and, in brackets, the lowest and highest round. Both are read from /metrics when the "
    "window opens and when it closes."
)


def _throughput_and_latency(comparison: Comparison, mode: str) -> list[str]:
    runs = comparison.runs_of(mode)
    rps = summarise([run.requests_per_second for run in runs])
    p50 = []
    for run in runs:
        row = run.row("cart", HEADLINE_ENDPOINT)
        p50.append(row.p50_ms if row else math.nan)
    return [fmt(rps.median), fmt(summarise(p50).median)]


def cpu_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for mode in comparison.mode_names:
        cells = [mode, *_throughput_and_latency(comparison, mode)]
        for figure in (*cost.CPU_FIGURES, cost.SERVICES_FIGURE):
            cells.append(fmt_summary(cost.summary(comparison, mode, figure)))
        rows.append(cells)
    return rows


def operations_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for mode in comparison.mode_names:
        runs = comparison.runs_of(mode)
        master_data = summarise([run.per_request(run.master_data_commands) for run in runs])
        starts = sorted({str(run.stored_carts_at_start) for run in runs})
        rows.append(
            [
                mode,
                fmt_summary(cost.summary(comparison, mode, cost.DATABASE_OPERATIONS)),
                fmt_summary(
                    cost.summary(comparison, mode, cost.CART_COUNTED_COMMANDS),
                    missing="not exposed by this code",
                ),
                fmt_summary(master_data),
                ", ".join(starts),
            ]
        )
    return rows


def _hit_ratio_text(comparison: Comparison, mode: str, setting: Mode | None) -> str:
    if setting is not None and not setting.item_cache:
        return "n/a (no cache)"
    ratios = [cost.hit_ratio(run) for run in comparison.runs_of(mode)]
    ratios = [ratio for ratio in ratios if not math.isnan(ratio)]
    if not ratios:
        return "not exposed by this code"
    middle = statistics.median(ratios)
    if len(ratios) < 2:
        return f"{middle:.1%}"
    return f"{middle:.1%} ({min(ratios):.1%} to {max(ratios):.1%})"


def _cache_text(mode: str, setting: Mode | None) -> str:
    if setting is None:
        return "?"
    if current_mode_name(mode) != mode:
        return f"USE_ITEM_CACHE={str(setting.item_cache).lower()} (that code's)"
    return "fed by the catalog feed" if setting.item_cache else "off (+nocache)"


def lookups_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for mode in comparison.mode_names:
        setting = setting_of(mode)
        calls = cost.summary(comparison, mode, cost.MASTER_DATA_CALLS)
        rows.append(
            [
                mode,
                _cache_text(mode, setting),
                fmt_summary(calls, digits=3),
                _hit_ratio_text(comparison, mode, setting),
            ]
        )
    return rows


def _lookups_measured(comparison: Comparison) -> bool:
    """Results of runs before these figures have neither: their report stays as it was."""
    return any(
        run.master_data_calls is not None or run.item_cache_hits is not None
        for run in comparison.runs
    )


def _shortened(command: str, limit: int = 90) -> str:
    return command if len(command) <= limit else command[:limit] + " ..."


def processes_read(comparison: Comparison) -> list[str]:
    """What each CPU column was read from (the first run's processes; every run's are in
    results.json)."""
    first = comparison.runs[0].cpu_processes if comparison.runs else {}
    if not first:
        return []
    listed = "; ".join(f"{name}: `{_shortened(command)}`" for name, command in first.items())
    return [f"Processes read (first run): {listed}."]


def sections(comparison: Comparison) -> list[Section]:
    return [
        Section(
            "Cost per request: CPU (closed loop)",
            CPU_NOTE,
            CPU_HEADER,
            cpu_rows(comparison),
            processes_read(comparison),
        ),
        Section(
            "Cost per request: database operations (closed loop)",
            OPERATIONS_NOTE,
            OPERATIONS_HEADER,
            operations_rows(comparison),
        ),
        *(
            [Section(LOOKUPS_HEADING, LOOKUPS_NOTE, LOOKUPS_HEADER, lookups_rows(comparison))]
            if _lookups_measured(comparison)
            else []
        ),
    ]


def chart(comparison: Comparison, path: Path) -> None:
    """Stacked bars: median CPU-ms per request of each process, per mode."""
    modes = comparison.mode_names
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(modes) + 2), 4.5))
    bottoms = [0.0] * len(modes)
    for process, figure in zip(cost.PROCESSES, cost.CPU_FIGURES, strict=True):
        heights = [cost.summary(comparison, mode, figure).median for mode in modes]
        heights = [0.0 if math.isnan(h) else h for h in heights]
        ax.bar(modes, heights, 0.6, bottom=bottoms, label=process)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    missing = [
        process
        for process, figure in zip(cost.PROCESSES, cost.CPU_FIGURES, strict=True)
        if all(math.isnan(cost.summary(comparison, mode, figure).median) for mode in modes)
    ]
    title = "CPU-ms per request by process (median over rounds)"
    if missing:
        title += f"; {', '.join(missing)}: {NOT_MEASURED}"
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("CPU-ms per request")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)
