"""The HTTP-vs-gRPC comparison: same data, same load, modes interleaved, report with intervals,
what each request costs, and what a terminal sees.

    scripts/compare.sh [--modes http-aiohttp,grpc,http-aiohttp+nocache,grpc+nocache]
                       [--rounds 3] [--users 16] [--seconds 10] [--warmup 3] ...
                       [--baseline-ref REF] [--no-open-loop] [--no-unloaded] ...
                       [--no-propagation] [--propagation-changes 20] ...

A mode is <transport>[+nocache][+keys]: <transport> is grpc or http-aiohttp (the transport
bench, benches/transport.py, compares HTTP client libraries); cart runs with its item cache fed
by the catalog feed (USE_ITEM_CACHE=true) unless +nocache (USE_ITEM_CACHE=false: every lookup
goes to master-data, which measures the transports themselves); +keys has the terminals send
Idempotency-Key.

It sets everything up itself: the database (embedded SecantusDB unless MONGODB_URI is set),
master-data serving HTTP and gRPC, the demo catalog, one terminal key per locust user. Then
four phases, each run with a fresh cart and from the same database state (no stored carts):

1. closed loop: for each round, every mode in turn (the order alternates between rounds),
   terminals starting their next sale when the last is done: throughput, latency, CPU-ms,
   database operations and master-data calls per request, the item cache's hit ratio;
2. open loop: every mode offered a fixed rate of sales, shares of its own closed-loop capacity
   (--open-loop-shares): latency per endpoint when cart is not saturated;
3. unloaded: one terminal per mode, no think time: the hop without queueing;
4. propagation: for the first HTTP and the first gRPC mode of the current code with the fed
   cache, two cart processes, each under the closed-loop load with half the terminals, and
   --propagation-changes price changes through master-data's admin API, one every 0.5 s at
   most: how soon every process shows each, and the feed's own lag. A change not shown
   within --propagation-limit seconds, or a phase cut short, is a failure: reported in the
   report and on stderr, and the exit status is 1 (the report is written all the same).

`--baseline-ref REF` adds <mode>@REF for every mode: cart's code as of REF with the same
settings; what that code does with USE_ITEM_CACHE is its own (before the catalog feed, 8da35fa,
true was a 30 s TTL item cache).

Every loop is bounded; every process it started is stopped at the end, on Ctrl-C and on
failure too, and the baseline's worktree is removed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from pos_devstack.paths import REPO_ROOT
from pos_devstack.seed import DEMO_STORE
from pos_loadtest.comparison.environment import describe_environment
from pos_loadtest.comparison.fresh_state import reset_cart_data
from pos_loadtest.comparison.locust_run import LoadSettings
from pos_loadtest.comparison.measured_run import RunPlan, describe, measure
from pos_loadtest.comparison.modes import DEFAULT_MODES, GRAMMAR, Mode, parse_mode
from pos_loadtest.comparison.open_loop import capacity, offered_load
from pos_loadtest.comparison.propagation import (
    PROCESSES,
    PropagationPlan,
    measure_propagation,
    pick_modes,
    terminals_needed,
)
from pos_loadtest.comparison.results import Comparison, PropagationRun, RunResult, load_comparison
from pos_loadtest.comparison.scenario import calls_per_sale
from pos_loadtest.probes.database_operations import database_client
from pos_loadtest.report.cost_sections import LOOKUPS_HEADING
from pos_loadtest.report.propagation_sections import (
    LAG_HEADING,
    SHOWN_HEADING,
    describe_propagation,
)
from pos_loadtest.report.propagation_sections import failures as propagation_failures
from pos_loadtest.report.write import write_report
from pos_loadtest.run_logs import INTERRUPTED, run_logs
from pos_loadtest.stacks import older_ref
from pos_loadtest.stacks.comparison import ComparisonStack, running_stack

REPORTS_DIR = REPO_ROOT / "loadtest" / "reports"


def _shares(text: str) -> list[float]:
    shares = [float(part) for part in text.split(",") if part.strip()]
    if not shares or not all(0 < share <= 1.5 for share in shares):
        raise argparse.ArgumentTypeError("shares of capacity, each above 0 and at most 1.5")
    return shares


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-compare", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--modes",
        default=",".join(mode.name for mode in DEFAULT_MODES),
        help=f"comma-separated cart configurations, each {GRAMMAR} (see above); the first is "
        "the baseline of the ratios",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 2 for CIs)")
    parser.add_argument("--users", type=int, default=16, help="locust users = terminals")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument(
        "--warmup", type=float, default=3.0,
        help="uncounted seconds per run: users start over the first half, settle over the second",
    )  # fmt: skip
    parser.add_argument("--items-per-cart", type=int, default=5)
    parser.add_argument("--catalog-size", type=int, default=100, help="items scanned from")
    parser.add_argument("--cancel-share", type=float, default=0.1)
    parser.add_argument("--think-time", type=float, default=0.0, help="0 for throughput runs")
    parser.add_argument(
        "--baseline-ref", default=None, metavar="REF",
        help="also run every mode with cart's code as of this git ref (<mode>@REF)",
    )  # fmt: skip
    parser.add_argument("--no-open-loop", action="store_true", help="skip the open-loop phase")
    parser.add_argument("--open-loop-seconds", type=float, default=6.0)
    parser.add_argument(
        "--open-loop-shares", type=_shares, default=[0.5, 0.8],
        help="arrival rates as shares of each mode's closed-loop capacity (default 0.5,0.8)",
    )  # fmt: skip
    parser.add_argument(
        "--open-loop-users", type=int, default=None,
        help="terminals the arrivals are spread over (default: twice --users)",
    )  # fmt: skip
    parser.add_argument("--no-unloaded", action="store_true", help="skip the one-terminal phase")
    parser.add_argument("--unloaded-seconds", type=float, default=5.0)
    parser.add_argument("--no-propagation", action="store_true", help="skip the price-change phase")
    parser.add_argument(
        "--propagation-changes",
        type=int,
        default=20,
        help="price changes per transport (default 20)",
    )
    parser.add_argument(
        "--propagation-limit", type=float, default=5.0,
        help="seconds a change may take to show on every cart process before it is a failure "
        "(default 5)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="report folder")
    options = parser.parse_args(argv)
    try:
        options.mode_list = [parse_mode(name.strip()) for name in options.modes.split(",") if name]
    except ValueError as exc:
        parser.error(str(exc))
    if len({m.name for m in options.mode_list}) != len(options.mode_list):
        parser.error("a mode is listed twice")
    if options.rounds < 1 or options.users < 1 or options.seconds <= 0:
        parser.error("rounds, users and seconds must be positive")
    if options.open_loop_users is None:
        options.open_loop_users = 2 * options.users
    if options.open_loop_users < 1 or options.open_loop_seconds <= 0:
        parser.error("open-loop users and seconds must be positive")
    if options.unloaded_seconds <= 0:
        parser.error("unloaded seconds must be positive")
    if options.propagation_changes < 1 or options.propagation_limit <= 0:
        parser.error("propagation changes and limit must be positive")
    return options


def _with_baseline(modes: list[Mode], ref: str | None) -> list[Mode]:
    """Each mode followed by the same mode on the older code, so the two run side by side."""
    if ref is None:
        return modes
    return [variant for mode in modes for variant in (mode, mode.at_ref(ref))]


def _settings(options: argparse.Namespace, item_count: int) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "rounds": options.rounds,
        "users (terminals)": options.users,
        "measured seconds per run": options.seconds,
        "warm-up seconds per run": options.warmup,
        "items per cart": options.items_per_cart,
        "catalog subset": item_count,
        "cancel share": options.cancel_share,
        "think time": options.think_time,
        "store": DEMO_STORE,
    }
    if options.baseline_ref:
        settings["baseline ref"] = (
            f"{options.baseline_ref} ({older_ref.resolve(options.baseline_ref)})"
        )
    if not options.no_open_loop:
        settings["open loop: shares of capacity"] = ", ".join(
            f"{share:g}" for share in options.open_loop_shares
        )
        settings["open loop: terminals, measured seconds"] = (
            f"{options.open_loop_users}, {options.open_loop_seconds:g}"
        )
    if not options.no_unloaded:
        settings["unloaded: terminals, measured seconds"] = f"1, {options.unloaded_seconds:g}"
    if not options.no_propagation:
        settings["propagation: cart processes, changes, limit seconds"] = (
            f"{PROCESSES}, {options.propagation_changes}, {options.propagation_limit:g}"
        )
    return settings


def _starting_state(comparison: Comparison) -> str:
    counts = {
        run.stored_carts_at_start
        for run in [*comparison.runs, *comparison.open_loop, *comparison.unloaded]
    }
    if counts == {0}:
        return (
            "each run starts with 0 stored carts (cart's tenant collections are dropped before "
            "every run; the catalog and the terminals stay)"
        )
    return f"stored carts at the start of the runs: {sorted(counts, key=str)}"


class _Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def step(self, what: str) -> None:
        self.done += 1
        print(f"[{self.done}/{self.total}] {what}", flush=True)


@dataclass
class _Session:
    """What every run of one comparison shares."""

    options: argparse.Namespace
    stack: ComparisonStack
    database: MongoClient[dict[str, Any]]
    modes: list[Mode]
    comparison: Comparison
    progress: _Progress

    def measure(self, plan: RunPlan, what: str) -> RunResult:
        self.progress.step(what)
        result = measure(self.stack, self.database, plan)
        print(describe(result), flush=True)
        return result


def _closed_loop(session: _Session, load: LoadSettings) -> None:
    """Every mode in turn, each round; the order alternates so no mode always goes first."""
    for round_number in range(1, session.options.rounds + 1):
        order = session.modes if round_number % 2 else list(reversed(session.modes))
        for mode in order:
            plan = RunPlan(mode, load, f"{mode.name}-{round_number}", round_number, round_number)
            result = session.measure(plan, f"round {round_number}: {mode.name}")
            session.comparison.runs.append(result)


def _open_loop(session: _Session, closed: LoadSettings, shares: list[float]) -> None:
    """Every mode offered each share of its own closed-loop capacity, as sales per second."""
    options = session.options
    sale_calls = calls_per_sale(options.items_per_cart, options.cancel_share)
    for share in shares:
        for mode in session.modes:
            offered = offered_load(capacity(session.comparison, mode.name), share, sale_calls)
            load = replace(
                closed, users=options.open_loop_users, seconds=options.open_loop_seconds,
                arrival_rate=offered.sales_per_second,
            )  # fmt: skip
            what = (
                f"open loop at {share:.0%} of capacity: {mode.name}, "
                f"{offered.sales_per_second:.1f} sales/s (~{offered.requests_per_second:.0f} req/s)"
            )
            result = session.measure(RunPlan(mode, load, f"{mode.name}-open-{share:g}"), what)
            result.load_share = share
            result.offered_sales_per_second = offered.sales_per_second
            result.offered_requests_per_second = offered.requests_per_second
            session.comparison.open_loop.append(result)


def _unloaded(session: _Session, closed: LoadSettings) -> None:
    """One terminal per mode, no think time: nothing queues."""
    single = replace(closed, users=1, seconds=session.options.unloaded_seconds, think_time=0.0)
    for mode in session.modes:
        plan = RunPlan(mode, single, f"{mode.name}-unloaded")
        session.comparison.unloaded.append(
            session.measure(plan, f"unloaded (one terminal): {mode.name}")
        )


def _propagation(session: _Session, closed: LoadSettings, modes: list[Mode]) -> None:
    """Price changes under load, per transport with the fed cache; a mode whose phase breaks
    is recorded as failed, and the comparison's other results are kept."""
    options = session.options
    for mode in modes:
        session.progress.step(f"propagation under load: {mode.name}, {PROCESSES} cart processes")
        plan = PropagationPlan(mode, closed, options.propagation_changes, options.propagation_limit)
        # With no cart running, as before every run: the load starts from 0 stored carts.
        reset_cart_data(session.database, session.stack.tenant_id)
        try:
            result = measure_propagation(session.stack, plan)
        except Exception as exc:  # reported as a failure, loudly, with the phase's logs kept
            result = PropagationRun(
                mode.name, "", plan.processes, plan.users_per_process * plan.processes,
                plan.limit_seconds, plan.changes, error=f"{type(exc).__name__}: {exc}",
            )  # fmt: skip
        print(describe_propagation(result), flush=True)
        session.comparison.propagation.append(result)


def _phases(
    options: argparse.Namespace,
    stack: ComparisonStack,
    database: MongoClient[dict[str, Any]],
    modes: list[Mode],
    comparison: Comparison,
) -> None:
    shares = [] if options.no_open_loop else options.open_loop_shares
    runs_per_mode = options.rounds + len(shares) + (0 if options.no_unloaded else 1)
    propagating = [] if options.no_propagation else pick_modes(modes)
    if not options.no_propagation and not propagating:
        print("propagation: no mode of the current code with the fed item cache: skipped")
    steps = len(modes) * runs_per_mode + len(propagating)
    session = _Session(options, stack, database, modes, comparison, _Progress(steps))
    closed = LoadSettings.of(options)
    _closed_loop(session, closed)
    if shares:
        _open_loop(session, closed, shares)
    if not options.no_unloaded:
        _unloaded(session, closed)
    if propagating:
        _propagation(session, closed, propagating)


def run(options: argparse.Namespace) -> Path:
    started = datetime.now(UTC)
    folder: Path = options.out or REPORTS_DIR / started.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    modes = _with_baseline(options.mode_list, options.baseline_ref)
    terminals = max(
        options.users,
        0 if options.no_open_loop else options.open_loop_users,
        0 if options.no_propagation else terminals_needed(options.users),
    )
    # Logs and locust's raw files: kept after a good run only when propagation failed
    # (results.json keeps the figures).
    with run_logs("compare-") as logs:
        with ExitStack() as exits:
            work = logs.folder
            stack = exits.enter_context(
                running_stack(work, terminals=terminals, catalog_size=options.catalog_size)
            )
            if options.baseline_ref:
                tree = exits.enter_context(older_ref.checkout(options.baseline_ref, work))
                paths = older_ref.import_paths(tree)
                older_ref.check_imports_from(tree, paths)
                stack.code_of_ref[options.baseline_ref] = paths
            database = exits.enter_context(closing(database_client(stack.uri)))
            comparison = Comparison(
                started_at=started.isoformat(timespec="seconds"),
                command="scripts/compare.sh " + shlex.join(sys.argv[1:]),
                modes=[{"name": m.name, "description": m.description} for m in modes],
                baseline=modes[0].name,
                settings=_settings(options, stack.item_count),
                environment=describe_environment(stack.database_description()),
            )
            _phases(options, stack, database, modes, comparison)
        comparison.settings["starting state"] = _starting_state(comparison)
        summary = write_report(comparison, folder)
        print(f"\nreport: {summary}\n        {folder / 'report.html'}", flush=True)
        logs.keep = bool(propagation_failures(comparison))
    return summary


def _section(markdown: str, heading: str) -> str:
    marker = f"## {heading}"
    if marker not in markdown:
        return ""
    return marker + markdown.split(marker, 1)[1].split("\n## ", 1)[0]


def terminal_summary(markdown: str) -> str:
    """The headline, then master-data calls and the cache, and the propagation phase."""
    parts = [markdown.split("## Modes")[0]]
    parts += [_section(markdown, h) for h in (LOOKUPS_HEADING, SHOWN_HEADING, LAG_HEADING)]
    return "\n".join(part for part in parts if part)


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    began = time.monotonic()
    try:
        summary = run(options)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    print(f"took {time.monotonic() - began:.0f}s")
    print(terminal_summary(summary.read_text()))
    failed = propagation_failures(load_comparison(summary.parent / "results.json"))
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
