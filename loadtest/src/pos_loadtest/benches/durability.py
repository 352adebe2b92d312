"""What SecantusDB's --sync-on-commit (an fsync of its log on every commit) costs the whole
flow: requests/s, and CPU-ms per cart request of the database and of cart.

    scripts/bench_durability.sh [--rounds 4] [--seconds 8] [--terminals 8]

Two stacks side by side, each a SecantusDB on its own data directory (one with default
settings, one with --sync-on-commit), its master-data and one cart. In every round the same
load runs on each in turn (the order alternating by round): terminals selling nonstop
(sales_load.SalesLoad: create, scan three items one at a time, subtotal, pay, bill). CPU
from /proc over each window (cpu.CpuProbe); medians over rounds, and the ratio of
--sync-on-commit to the default paired by round. The disk is this machine's: an fsync costs
what it costs here. Not a test: nothing here has a threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

from pos_commons.transport import Transport
from pos_devstack.stack import SYNC_ON_COMMIT, Tokens
from pos_loadtest.benches.closed_loop import median, median_ratio
from pos_loadtest.stacks.durable import DurableStack, Window, durable_stack, measure_window

SETTINGS = {"default": (), "sync-on-commit": (SYNC_ON_COMMIT,)}


async def measure(stack: DurableStack, seconds: float) -> Window:
    return await measure_window(stack, seconds, Transport.HTTP, ("database", "cart"))


async def run(options: argparse.Namespace, work: Path) -> dict[str, list[Window]]:
    tokens = Tokens.generate()
    async with AsyncExitStack() as stacks:
        running: dict[str, DurableStack] = {}
        for name, args in SETTINGS.items():
            starting = durable_stack(
                work / name, tokens, database_args=args, terminals=options.terminals
            )
            running[name] = await stacks.enter_async_context(starting)
        for stack in running.values():  # connections, caches, the first files
            await measure(stack, options.warmup)
        windows: dict[str, list[Window]] = {name: [] for name in running}
        for number in range(options.rounds):
            order = list(running) if number % 2 == 0 else list(reversed(running))
            for name in order:
                windows[name].append(await measure(running[name], options.seconds))
                print(f"round {number + 1} {name}: {_row(windows[name][-1:])}", flush=True)
        return windows


def _row(windows: list[Window]) -> str:
    return (
        f"{median([w.rps for w in windows]):7.1f} req/s, CPU-ms per request: database "
        f"{median([w.cpu_ms['database'] for w in windows]):6.2f}, cart "
        f"{median([w.cpu_ms['cart'] for w in windows]):5.2f}; "
        f"{sum(w.failed for w in windows)} failed"
    )


def report(options: argparse.Namespace, windows: dict[str, list[Window]]) -> dict[str, object]:
    print(
        f"\n--sync-on-commit against the default: {options.terminals} terminals over HTTP, "
        f"{options.rounds} rounds x {options.seconds:g}s each, interleaved; medians over rounds"
    )
    for name, measured in windows.items():
        print(f"  {name:15} {_row(measured)}")
    base, synced = windows["default"], windows["sync-on-commit"]
    ratios = {
        "rps": median_ratio([w.rps for w in synced], [w.rps for w in base]),
        **{
            f"{process}CpuMs": median_ratio(
                [w.cpu_ms[process] for w in synced], [w.cpu_ms[process] for w in base]
            )
            for process in ("database", "cart")
        },
    }
    print(
        "  sync-on-commit / default, paired by round (spread): "
        + ", ".join(f"{what} x{ratio:.2f} ({spread})" for what, (ratio, spread) in ratios.items())
    )
    return {
        "terminals": options.terminals,
        "rounds": options.rounds,
        "seconds": options.seconds,
        "medians": {
            name: {
                "rps": median([w.rps for w in measured]),
                "databaseCpuMsPerRequest": median([w.cpu_ms["database"] for w in measured]),
                "cartCpuMsPerRequest": median([w.cpu_ms["cart"] for w in measured]),
                "failed": sum(w.failed for w in measured),
            }
            for name, measured in windows.items()
        },
        "ratios": {what: {"median": r, "spread": s} for what, (r, s) in ratios.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pos-bench-durability", description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="per setting and round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per setting, once")
    parser.add_argument("--terminals", type=int, default=8, help="terminals selling nonstop")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    if options.rounds < 1 or options.terminals < 1 or options.seconds <= 0:
        parser.error("rounds, terminals and seconds must be positive")
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as folder:
        figures = report(options, asyncio.run(run(options, Path(folder))))
    if options.out is not None:
        options.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
