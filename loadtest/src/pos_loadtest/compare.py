"""The HTTP-vs-gRPC comparison: same data, same load, modes interleaved, report with intervals,
what each request costs, and what a terminal sees.

    scripts/compare.sh [--modes http-aiohttp,http-httpx,http-httpx-aiohttp,grpc]
                       [--rounds 3] [--users 16] [--seconds 10] [--warmup 3] ...
                       [--baseline-ref REF] [--no-open-loop] [--no-unloaded] ...

It sets everything up itself: the database (embedded SecantusDB unless MONGODB_URI is set),
master-data serving HTTP and gRPC, the demo catalog, one terminal key per locust user. Then
three phases, each run with a fresh cart and from the same database state (no stored carts):

1. closed loop: for each round, every mode in turn (the order alternates between rounds),
   terminals starting their next sale when the last is done: throughput, latency, and CPU-ms
   and database operations per request;
2. open loop: every mode offered a fixed rate of sales, shares of its own closed-loop capacity
   (--open-loop-shares): latency per endpoint when cart is not saturated;
3. unloaded: one terminal per mode, no think time: the hop without queueing.

Every loop is bounded; every process it started is stopped at the end, on Ctrl-C and on
failure too, and the baseline's worktree is removed.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from pos_devstack.paths import REPO_ROOT
from pos_loadtest import baseline
from pos_loadtest.dbops import database_client
from pos_loadtest.environment import describe_environment
from pos_loadtest.harness import STORE, Harness, running_stack
from pos_loadtest.locust_run import LoadSettings
from pos_loadtest.measured_run import RunPlan, describe, measure
from pos_loadtest.modes import ALL_MODES, Mode, parse_mode
from pos_loadtest.open_loop import capacity, offered_load
from pos_loadtest.report import write_report
from pos_loadtest.results import Comparison, RunResult
from pos_loadtest.scenario import calls_per_sale

REPORTS_DIR = REPO_ROOT / "loadtest" / "reports"


def _shares(text: str) -> list[float]:
    shares = [float(part) for part in text.split(",") if part.strip()]
    if not shares or not all(0 < share <= 1.5 for share in shares):
        raise argparse.ArgumentTypeError("shares of capacity, each above 0 and at most 1.5")
    return shares


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="compare", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--modes",
        default=",".join(mode.name for mode in ALL_MODES),
        help="comma-separated cart configurations; the first is the baseline of the ratios",
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
    return options


def _with_baseline(modes: list[Mode], ref: str | None) -> list[Mode]:
    """Each mode followed by the same mode on the older code, so the two run side by side."""
    if ref is None:
        return modes
    return [variant for mode in modes for variant in (mode, mode.at_ref(ref))]


def _closed_loop_load(options: argparse.Namespace) -> LoadSettings:
    return LoadSettings(
        users=options.users,
        seconds=options.seconds,
        warmup_seconds=options.warmup,
        items_per_cart=options.items_per_cart,
        cancel_share=options.cancel_share,
        think_time=options.think_time,
    )


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
        "store": STORE,
        "USE_ITEM_CACHE": "false",
    }
    if options.baseline_ref:
        settings["baseline ref"] = (
            f"{options.baseline_ref} ({baseline.resolve(options.baseline_ref)})"
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
    harness: Harness
    database: MongoClient[dict[str, Any]]
    modes: list[Mode]
    comparison: Comparison
    progress: _Progress

    def measure(self, plan: RunPlan, what: str) -> RunResult:
        self.progress.step(what)
        result = measure(self.harness, self.database, plan)
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


def _phases(
    options: argparse.Namespace,
    harness: Harness,
    database: MongoClient[dict[str, Any]],
    modes: list[Mode],
    comparison: Comparison,
) -> None:
    shares = [] if options.no_open_loop else options.open_loop_shares
    runs_per_mode = options.rounds + len(shares) + (0 if options.no_unloaded else 1)
    session = _Session(
        options, harness, database, modes, comparison, _Progress(len(modes) * runs_per_mode)
    )
    closed = _closed_loop_load(options)
    _closed_loop(session, closed)
    if shares:
        _open_loop(session, closed, shares)
    if not options.no_unloaded:
        _unloaded(session, closed)


def run(options: argparse.Namespace) -> Path:
    started = datetime.now(UTC)
    folder: Path = options.out or REPORTS_DIR / started.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    # Logs and locust's raw files: deleted after a good run (results.json keeps the figures),
    # kept and named after a failed one.
    work = Path(tempfile.mkdtemp(prefix="compare-"))
    modes = _with_baseline(options.mode_list, options.baseline_ref)
    terminals = max(options.users, 0 if options.no_open_loop else options.open_loop_users)
    try:
        with ExitStack() as stack:
            harness = stack.enter_context(
                running_stack(work, terminals=terminals, catalog_size=options.catalog_size)
            )
            if options.baseline_ref:
                tree = stack.enter_context(baseline.checkout(options.baseline_ref, work))
                paths = baseline.import_paths(tree)
                baseline.check_imports_from(tree, paths)
                harness.code_of_ref[options.baseline_ref] = paths
            database = stack.enter_context(closing(database_client(harness.uri)))
            comparison = Comparison(
                started_at=started.isoformat(timespec="seconds"),
                command="scripts/compare.sh " + shlex.join(sys.argv[1:]),
                modes=[{"name": m.name, "description": m.description} for m in modes],
                baseline=modes[0].name,
                settings=_settings(options, harness.item_count),
                environment=describe_environment(harness.database_description()),
            )
            _phases(options, harness, database, modes, comparison)
        comparison.settings["starting state"] = _starting_state(comparison)
        summary = write_report(comparison, folder)
        print(f"\nreport: {summary}\n        {folder / 'report.html'}", flush=True)
        shutil.rmtree(work, ignore_errors=True)
        return summary
    except BaseException:
        print(f"logs of this run are in {work}", file=sys.stderr)
        raise


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    began = time.monotonic()
    try:
        summary = run(options)
    except KeyboardInterrupt:
        print("interrupted; every process started was stopped", file=sys.stderr)
        return 130
    print(f"took {time.monotonic() - began:.0f}s")
    print(summary.read_text().split("## Modes")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
