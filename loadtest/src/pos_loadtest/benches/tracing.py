"""What tracing costs the services: CPU-ms per cart request of cart and master-data with
tracing off, on with 1 % of the calls sampled and on with all of them, against the code
before tracing (`--baseline-ref`) in the same run.

    scripts/bench_tracing.sh --baseline-ref REF [--rounds 5] [--seconds 8] [--terminals 8]
                             [--transport http|grpc] [--no-item-cache]

One stack per setting (a SecantusDB on a data directory of its own, its master-data and one
cart, the demo catalog; stacks/durable.py), started once: `baseline` runs the services' code as
of the ref (a temporary git worktree), the others the current code with the settings below;
tracing exports to an OTLP/HTTP sink in this process (otlp_sink.py) with the SDK's default
batch processor. In every round the same load runs on each stack in turn, the order rotating
by round: terminals selling nonstop (sales_load.SalesLoad: create, scan three items one at
a time, subtotal, pay, bill), with cart's item cache as deployed (`--no-item-cache`: every
lookup goes to master-data, so every call crosses the hop). CPU from /proc over each window
(cpu.CpuProbe); medians over rounds, and each setting's ratio to `off`, paired by round.
Not a test: nothing here has a threshold.
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
from pos_devstack.stack import Tokens
from pos_loadtest.benches.closed_loop import median, median_ratio
from pos_loadtest.benches.otlp_sink import OtlpSink
from pos_loadtest.stacks import older_ref
from pos_loadtest.stacks.durable import DurableStack, Window, durable_stack, measure_window

PROCESSES = ("cart", "master-data", "database")
REFERENCE = "off"


def settings(endpoint: str) -> dict[str, dict[str, str]]:
    """Each setting's environment of both services (the baseline's is `off`'s)."""
    exporting = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    }
    return {
        "baseline": {},
        "off": {},
        "on-1%": {**exporting, "OTEL_TRACES_SAMPLER_ARG": "0.01"},
        "on-100%": {**exporting, "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    }


def services_ms(window: Window) -> float:
    return window.cpu_ms["cart"] + window.cpu_ms["master-data"]


async def measure(stack: DurableStack, seconds: float, transport: Transport) -> Window:
    return await measure_window(stack, seconds, transport, PROCESSES)


async def run(options: argparse.Namespace, work: Path, sink: OtlpSink) -> dict[str, list[Window]]:
    tokens = Tokens.generate()
    cache = {} if options.item_cache else {"USE_ITEM_CACHE": "false"}
    async with AsyncExitStack() as stacks:
        code = stacks.enter_context(older_ref.checkout(options.baseline_ref, work))
        running: dict[str, DurableStack] = {}
        for number, (name, environment) in enumerate(settings(sink.endpoint).items()):
            starting = durable_stack(
                work / name.replace("%", ""), tokens, transport=options.transport,
                terminals=options.terminals, code=code if name == "baseline" else None,
                service_env={**environment, **cache},
                first_terminal_no=1 + number * options.terminals,
            )  # fmt: skip
            running[name] = await stacks.enter_async_context(starting)
        for stack in running.values():  # connections, caches, the catalog feed
            await measure(stack, options.warmup, options.transport)
        windows: dict[str, list[Window]] = {name: [] for name in running}
        names = list(running)
        for number in range(options.rounds):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                window = await measure(running[name], options.seconds, options.transport)
                windows[name].append(window)
                print(f"round {number + 1} {name:8} {_row([window])}", flush=True)
        return windows


def _row(windows: list[Window]) -> str:
    cpu = ", ".join(
        f"{process} {median([w.cpu_ms[process] for w in windows]):5.2f}" for process in PROCESSES
    )
    return (
        f"{median([w.rps for w in windows]):6.1f} req/s, CPU-ms per request: services "
        f"{median([services_ms(w) for w in windows]):5.2f} ({cpu}); "
        f"{sum(w.failed for w in windows)} failed"
    )


def report(
    options: argparse.Namespace, windows: dict[str, list[Window]], sink: OtlpSink
) -> dict[str, object]:
    print(
        f"\nTracing's cost: {options.terminals} terminals over {options.transport}, item cache "
        f"{'on' if options.item_cache else 'off'}, {options.rounds} rounds x "
        f"{options.seconds:g}s per setting, rotated; baseline = {options.baseline_ref}; "
        f"medians over rounds"
    )
    for name, measured in windows.items():
        print(f"  {name:9} {_row(measured)}")
    reference = windows[REFERENCE]

    def ratio(mine: list[Window], figure: str) -> tuple[float, str]:
        def value(window: Window) -> float:
            return services_ms(window) if figure == "services" else window.cpu_ms[figure]

        return median_ratio([value(w) for w in mine], [value(w) for w in reference])

    ratios = {
        name: {figure: ratio(measured, figure) for figure in ("services", "cart", "master-data")}
        for name, measured in windows.items()
        if name != REFERENCE
    }
    print(f"  CPU-ms per request against `{REFERENCE}`, paired by round (spread):")
    for name, figures in ratios.items():
        print(
            f"    {name:9} "
            + ", ".join(f"{figure} x{r:.2f} ({s})" for figure, (r, s) in figures.items())
        )
    print(f"  the sink received {sink.exports} exports, {sink.bytes / 1e6:.1f} MB")
    return {
        "transport": str(options.transport),
        "itemCache": options.item_cache,
        "terminals": options.terminals,
        "rounds": options.rounds,
        "seconds": options.seconds,
        "baselineRef": options.baseline_ref,
        "medians": {
            name: {
                "rps": median([w.rps for w in measured]),
                "servicesCpuMsPerRequest": median([services_ms(w) for w in measured]),
                **{
                    f"{process}CpuMsPerRequest": median([w.cpu_ms[process] for w in measured])
                    for process in PROCESSES
                },
                "failed": sum(w.failed for w in measured),
            }
            for name, measured in windows.items()
        },
        "ratiosToOff": {
            name: {figure: {"median": r, "spread": s} for figure, (r, s) in figures.items()}
            for name, figures in ratios.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pos-bench-tracing", description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0, help="per setting and round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per setting, once")
    parser.add_argument("--terminals", type=int, default=8, help="terminals selling nonstop")
    parser.add_argument(
        "--transport", type=Transport, default=Transport.HTTP, choices=list(Transport)
    )
    parser.add_argument(
        "--no-item-cache", dest="item_cache", action="store_false",
        help="USE_ITEM_CACHE=false: every lookup crosses the hop",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-ref", required=True, help="the code before tracing (a git ref: 6d1bd80)"
    )
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    options = parser.parse_args(argv)
    if options.rounds < 1 or options.terminals < 1 or options.seconds <= 0:
        parser.error("rounds, terminals and seconds must be positive")
    older_ref.resolve(options.baseline_ref)
    sink = OtlpSink().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-tracing-") as folder:
            figures = report(options, asyncio.run(run(options, Path(folder), sink)), sink)
    finally:
        sink.stop()
    if options.out is not None:
        options.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
