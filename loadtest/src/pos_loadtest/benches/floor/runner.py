"""How far cart is above its floor: cart over HTTP, cart over gRPC and the bare cart
(bare_cart.py) under the project's own locust load, in one session, interleaved.

    pos-bench-floor [--rounds 6] [--seconds 10] [--warmup 3] [--users 16]
                    [--transports http,grpc] [--profile] [--out FOLDER]

Set up once: master-data (HTTP and gRPC) on a SecantusDB of its own with the demo catalog,
and for each contender a SecantusDB of its own as scripts/start.sh runs it (a data directory,
--sync-on-commit), so the database CPU each run reads is that contender's alone; the same
terminals in each (keys issued through cart, their documents copied). Each round runs every
contender once, the order rotating by round; each run starts from a fresh database (cart's
collections of the tenant dropped, comparison/fresh_state.py) and a fresh contender process,
and runs the locustfile (comparison/locust_run.py: the same seed for every contender of a
round) for the warm-up and the measured window. Over the window: requests/s, CPU-ms per
request of the contender's process and of its database (probes/cpu.py), and the commands its
database received per request (probes/database_operations.py: the same for every contender
when the floor does cart's database work). Reported: the median per contender with the 95 %
interval of the mean, and cart over the bare cart per transport, paired by round, with its
95 % interval (report/stats.py).

`--profile`: after the rounds, one more run of each contender recorded with py-spy
(comparison/profile.py's recording: collapsed stacks and a flame graph); printed, the top
frames of each and the CPU per request by package (each package's own code, from the
profile's shares of that run's CPU per request: a profile's figures, not a measurement) of
cart against the bare cart, largest difference first.

Output: the Markdown summary, printed and written with results.json (every run's figures)
under --out (loadtest/reports/floor-<time>/ by default). Every wait is bounded: the starts
by devstack, each locust run by its deadline, py-spy by its own. No threshold: a bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cart.storage.terminals import TERMINALS
from pos_commons.transport import Transport
from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import LOOPBACK, ManagedProcess, free_port
from pos_devstack.seed import demo_catalog, load_demo_catalog
from pos_devstack.stack import (
    SYNC_ON_COMMIT,
    CartProcess,
    MasterDataProcess,
    Tokens,
    start_cart,
    start_secantus,
)
from pos_loadtest.benches.floor.bare_cart import start_bare_cart
from pos_loadtest.comparison.environment import describe_environment
from pos_loadtest.comparison.fresh_state import reset_cart_data
from pos_loadtest.comparison.locust_run import LoadSettings, Probe, measure_window, start_locust
from pos_loadtest.comparison.profile import ProfilerError, PySpyRecording, check_permission
from pos_loadtest.comparison.profile_stacks import (
    describe,
    parse_collapsed,
    self_samples_by_package,
    top_frames,
)
from pos_loadtest.comparison.results import RunResult
from pos_loadtest.comparison.scenario import is_cart_call
from pos_loadtest.probes.cpu import CpuProbe, per_request_ms
from pos_loadtest.probes.database_operations import OpcounterProbe, database_client
from pos_loadtest.report.stats import Ratio, Summary, paired_ratio, summarise
from pos_loadtest.run_logs import exit_status, run_logs
from pos_loadtest.stacks.catalog import catalog_service
from pos_loadtest.stacks.comparison import issue_keys

REPORTS_DIR = REPO_ROOT / "loadtest" / "reports"
BARE = "bare"
CONTENDER = "cart"
"""The contender's process in the CPU figures (cart, or the bare cart standing in for it)."""
DATABASE = "database"
START_SECONDS = 120.0
"""How long locust waits for the contender to answer (its own start is bounded by devstack)."""
PROFILE_RATE = 100
"""py-spy samples per second."""


def cart_name(transport: Transport) -> str:
    return f"cart-{transport.value}"


@dataclass
class Contender:
    """One of the compared: cart over a transport (`transport`), or the bare cart (None), with
    its own database."""

    name: str
    transport: Transport | None
    database: ManagedProcess
    uri: str

    def start(self, setup: Setup, port: int, label: str) -> CartProcess:
        if self.transport is None:
            return start_bare_cart(
                self.uri, setup.tokens, setup.master, http_port=port, log_dir=setup.work,
                name=label,
            )  # fmt: skip
        return start_cart(
            self.uri, setup.tokens, setup.master, transport=self.transport, http_port=port,
            log_dir=setup.work, name=label,
        )  # fmt: skip


@dataclass
class Setup:
    work: Path
    tokens: Tokens
    master: MasterDataProcess
    tenant_id: str
    keys_file: Path
    items_file: Path
    contenders: list[Contender] = field(default_factory=list)


def _copy_terminals(source_uri: str, target_uris: Sequence[str]) -> None:
    """The terminals (their stored documents, key hashes included) of one contender's
    database into the others': every contender knows the same keys."""
    with closing(database_client(source_uri)) as source:
        system = "cart__system"
        terminals = list(source[system][TERMINALS].find())
    for uri in target_uris:
        with closing(database_client(uri)) as target:
            target[system][TERMINALS].insert_many(terminals)


@contextmanager
def running_setup(
    work: Path, transports: Sequence[Transport], terminals: int, catalog_size: int
) -> Iterator[Setup]:
    """Everything started once for the session, stopped when the block ends, however."""
    tokens = Tokens.generate()
    with ExitStack() as started:
        master = started.enter_context(catalog_service(work, tokens)).master
        # Enough items that `catalog_size` of them are sellable (every 25th is deleted).
        catalog = demo_catalog(catalog_size + catalog_size // 20 + 2)
        asyncio.run(load_demo_catalog(master.url, tokens.admin, catalog))
        items_file = work / "items.json"
        items_file.write_text(json.dumps(catalog.sellable_codes[:catalog_size]))
        names = [(cart_name(t), t) for t in transports] + [(BARE, None)]
        contenders = []
        for name, transport in names:
            database, uri = start_secantus(
                work / f"db-{name}", log_dir=work, extra_args=(SYNC_ON_COMMIT,)
            )
            started.callback(database.stop)
            contenders.append(Contender(name, transport, database, uri))
        issuer = start_cart(
            contenders[0].uri, tokens, master, transport=Transport.HTTP, log_dir=work,
            name="cart-keys",
        )  # fmt: skip
        try:
            keys = issue_keys(issuer.url, tokens.cart_admin, catalog.tenant_id, terminals)
        finally:
            issuer.process.stop()
        _copy_terminals(contenders[0].uri, [c.uri for c in contenders[1:]])
        keys_file = work / "keys.json"
        keys_file.write_text(json.dumps(keys))
        yield Setup(work, tokens, master, catalog.tenant_id, keys_file, items_file, contenders)


def measure(
    setup: Setup,
    contender: Contender,
    load: LoadSettings,
    round_no: int,
    label: str,
    extra_probes: Sequence[Probe] = (),
) -> RunResult:
    """One run: the contender's database back to its starting state, a fresh contender
    process, locust for the warm-up and the window, the probes on the window."""
    with closing(database_client(contender.uri)) as database:
        reset_cart_data(database, setup.tenant_id)
        port = free_port()
        # locust starts (and waits for the contender to answer) while the contender starts.
        locust = start_locust(
            f"http://{LOOPBACK}:{port}", setup.keys_file, setup.items_file, load,
            setup.work / label, seed=round_no, wait_for_host_seconds=START_SECONDS,
        )  # fmt: skip
        try:
            server = contender.start(setup, port, label)
            try:
                cpu = CpuProbe({})
                operations = OpcounterProbe(database)
                pids = {CONTENDER: server.process.pid, DATABASE: contender.database.pid}
                window = measure_window(locust, [cpu, operations, *extra_probes], pids=pids)
            finally:
                server.process.stop()
        finally:
            locust.stop()
    return RunResult(
        contender.name,
        round_no,
        window.rows,
        cpu_seconds=cpu.used,
        cpu_processes=cpu.commands,
        database_operations=operations.grown,
        seconds=window.seconds,
        users=load.users,
    )


def rotated(contenders: Sequence[Contender], round_no: int) -> list[Contender]:
    """Round n starts with the n-th contender: each is first, middle and last alike."""
    shift = (round_no - 1) % len(contenders)
    return [*contenders[shift:], *contenders[:shift]]


# -- figures ---------------------------------------------------------------------------------


def failures(run: RunResult) -> int:
    return sum(row.failures for row in run.rows if is_cart_call(row.kind))


def cpu_ms(run: RunResult, process: str) -> float:
    return per_request_ms(run.cpu_seconds, run.requests).get(process, math.nan)


def operations_per_request(run: RunResult) -> float:
    return run.per_request(run.database_operations)


FIGURES = {
    "rps": lambda run: run.requests_per_second,
    "cartCpuMs": lambda run: cpu_ms(run, CONTENDER),
    "databaseCpuMs": lambda run: cpu_ms(run, DATABASE),
    "databaseOperations": operations_per_request,
}
"""Each run's figures, by their name in results.json."""


def summaries(runs: Sequence[RunResult], names: Sequence[str]) -> dict[str, dict[str, Summary]]:
    return {
        name: {
            figure: summarise([value(run) for run in runs if run.mode == name])
            for figure, value in FIGURES.items()
        }
        for name in names
    }


def per_round(runs: Sequence[RunResult], name: str, figure: str) -> list[float]:
    mine = sorted((run for run in runs if run.mode == name), key=lambda run: run.round)
    return [FIGURES[figure](run) for run in mine]


def ratios(runs: Sequence[RunResult], names: Sequence[str]) -> dict[str, dict[str, Ratio]]:
    """Each cart over the bare cart, figure by figure, paired by round."""
    return {
        name: {
            figure: paired_ratio(per_round(runs, name, figure), per_round(runs, BARE, figure))
            for figure in FIGURES
        }
        for name in names
        if name != BARE
    }


def _interval(summary: Summary, digits: int) -> str:
    if summary.rounds < 2:
        return f"{summary.median:.{digits}f}"
    return f"{summary.median:.{digits}f} ({summary.low:.{digits}f}-{summary.high:.{digits}f})"


def _ratio(ratio: Ratio) -> str:
    if ratio.rounds < 2:
        return f"{ratio.value:.2f}"
    return f"**{ratio.value:.2f}** ({ratio.low:.2f}-{ratio.high:.2f})"


def markdown(
    settings: Mapping[str, Any],
    runs: Sequence[RunResult],
    names: Sequence[str],
    profile: str = "",
) -> str:
    summary = summaries(runs, names)
    lines = [
        "# cart against its floor",
        "",
        f"`{settings['command']}` at {settings['commit'][:12]}"
        f"{' (services changed since)' if settings['servicesChanged'] else ''}, "
        f"{settings['startedAt']}: {settings['users']} terminals, {settings['rounds']} rounds "
        f"of {settings['seconds']:g} s after a {settings['warmupSeconds']:g} s warm-up, "
        "interleaved (the order rotating by round), every run from a fresh database and a "
        f"fresh process; load average {settings['loadAverage']['before']} before, "
        f"{settings['loadAverage']['after']} after. Medians over rounds, in brackets the 95 % "
        "interval of the mean.",
        "",
        "| contender | req/s | contender CPU-ms per request | database CPU-ms per request "
        "| database commands per request | failed calls |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        figures = summary[name]
        failed = sum(failures(run) for run in runs if run.mode == name)
        lines.append(
            f"| {name} | {_interval(figures['rps'], 0)} | {_interval(figures['cartCpuMs'], 3)} "
            f"| {_interval(figures['databaseCpuMs'], 3)} "
            f"| {_interval(figures['databaseOperations'], 2)} | {failed} |"
        )
    lines += [
        "",
        "cart over the bare cart, paired by round (geometric mean, 95 % interval):",
        "",
        "| | contender CPU per request | database CPU per request | database commands "
        "per request | req/s |",
        "|---|---|---|---|---|",
    ]
    for name, paired in ratios(runs, names).items():
        lines.append(
            f"| {name} / {BARE} | {_ratio(paired['cartCpuMs'])} "
            f"| {_ratio(paired['databaseCpuMs'])} | {_ratio(paired['databaseOperations'])} "
            f"| {_ratio(paired['rps'])} |"
        )
    return "\n".join(lines) + "\n" + profile


# -- the profile ---------------------------------------------------------------------------------


@dataclass
class Profiled:
    name: str
    run: RunResult
    recording: PySpyRecording

    def by_package_us(self) -> dict[str, float]:
        """Microseconds of the contender's CPU per request spent in each package's own code:
        the run's CPU per request split by the profile's self samples."""
        stacks = parse_collapsed(self.recording.collapsed.read_text().splitlines())
        groups = self_samples_by_package(stacks)
        total = sum(groups.values())
        per_request = cpu_ms(self.run, CONTENDER) * 1000
        return {group: per_request * n / total for group, n in groups.items()} if total else {}

    def top(self, count: int) -> str:
        stacks = parse_collapsed(self.recording.collapsed.read_text().splitlines())
        return describe(top_frames(stacks, count))


def profile_runs(setup: Setup, load: LoadSettings, folder: Path, round_no: int) -> list[Profiled]:
    """One more run of each contender, recorded by py-spy over its window."""
    check_permission(setup.master.process.pid)
    profiled = []
    for contender in setup.contenders:
        recording = PySpyRecording(
            CONTENDER, load.seconds, PROFILE_RATE, folder / f"profile-{contender.name}",
            setup.work,
        )  # fmt: skip
        recording.folder.mkdir(parents=True, exist_ok=True)
        label = f"profile-{contender.name}"
        run = measure(setup, contender, load, round_no, label, extra_probes=[recording])
        profiled.append(Profiled(contender.name, run, recording))
    return profiled


def profile_markdown(profiled: Sequence[Profiled], top: int, rows: int) -> str:
    """The top frames of each contender, and each cart against the bare cart by package."""
    bare = next(p for p in profiled if p.name == BARE)
    floor = bare.by_package_us()
    parts = ["", "## Where the difference goes (py-spy, one run each)", ""]
    for entry in profiled:
        parts += [
            f"{entry.name}: {cpu_ms(entry.run, CONTENDER):.3f} CPU-ms per request in the "
            f"profiled run; flame graph {entry.recording.flamegraph}",
            "",
        ]
    for entry in profiled:
        if entry is bare:
            continue
        mine = entry.by_package_us()
        groups = sorted(set(mine) | set(floor), key=lambda g: -(mine.get(g, 0) - floor.get(g, 0)))
        parts += [
            f"{entry.name} against {BARE}: microseconds of CPU per request in each package's "
            "own code (self samples)",
            "",
            f"| package | {entry.name} | {BARE} | difference |",
            "|---|---|---|---|",
        ]
        for group in groups[:rows]:
            mine_us, floor_us = mine.get(group, 0.0), floor.get(group, 0.0)
            parts.append(
                f"| `{group}` | {mine_us:.0f} | {floor_us:.0f} | {mine_us - floor_us:+.0f} |"
            )
        rest = groups[rows:]
        parts.append(
            f"| (the {len(rest)} others) | {sum(mine.get(g, 0.0) for g in rest):.0f} "
            f"| {sum(floor.get(g, 0.0) for g in rest):.0f} "
            f"| {sum(mine.get(g, 0.0) - floor.get(g, 0.0) for g in rest):+.0f} |"
        )
        total, floor_total = sum(mine.values()), sum(floor.values())
        parts += [
            f"| all | {total:.0f} | {floor_total:.0f} | {total - floor_total:+.0f} |",
            "",
        ]
    for entry in profiled:
        parts += [f"### Top frames: {entry.name}", "", "```", entry.top(top), "```", ""]
    return "\n".join(parts)


# -- the command -----------------------------------------------------------------------------------


def _transports(text: str) -> list[Transport]:
    try:
        chosen = [Transport(name.strip()) for name in text.split(",") if name.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"transports are http and grpc, not {text!r}") from None
    if not chosen or len(set(chosen)) != len(chosen):
        raise argparse.ArgumentTypeError("name each transport once")
    return chosen


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pos-bench-floor", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before each window")
    parser.add_argument("--users", type=int, default=16, help="locust users = terminals")
    parser.add_argument("--items-per-cart", type=int, default=5)
    parser.add_argument("--cancel-share", type=float, default=0.1)
    parser.add_argument("--catalog-size", type=int, default=100, help="items the load scans")
    parser.add_argument(
        "--transports", type=_transports, default=list(Transport), help="http,grpc (both)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy of each, one more run")
    parser.add_argument("--top", type=int, default=25, help="frames listed per profile")
    parser.add_argument("--packages", type=int, default=15, help="packages listed per profile")
    parser.add_argument("--out", type=Path, default=None, help="report folder")
    options = parser.parse_args(argv)
    if min(options.rounds, options.users, options.catalog_size, options.top) < 1:
        parser.error("rounds, users, catalog size and top must be positive")
    if options.seconds <= 0 or options.warmup < 0 or not 0 <= options.cancel_share <= 1:
        parser.error("seconds must be positive, warmup not negative, cancel share in 0..1")
    return options


def _services_changed() -> bool:
    """Whether the services' code differs from the commit (figures of uncommitted code)."""
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "services"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return bool(result.stdout.strip())


def _commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.stdout.strip() or "unknown"


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def run(options: argparse.Namespace) -> Path:
    started = datetime.now(UTC)
    folder: Path = options.out or REPORTS_DIR / f"floor-{started.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    load = LoadSettings.of(options, think_time=0.0)
    settings: dict[str, Any] = {
        "command": " ".join(["pos-bench-floor", *sys.argv[1:]]),
        "startedAt": started.isoformat(timespec="seconds"),
        "commit": _commit(),
        "servicesChanged": _services_changed(),
        "users": options.users,
        "rounds": options.rounds,
        "seconds": options.seconds,
        "warmupSeconds": options.warmup,
        "itemsPerCart": options.items_per_cart,
        "cancelShare": options.cancel_share,
        "catalogSize": options.catalog_size,
        "loadAverage": {"before": _load_average()},
    }
    sizes = (options.users, options.catalog_size)
    with (
        run_logs("bench-floor-") as logs,
        running_setup(logs.folder, options.transports, *sizes) as setup,
    ):
        names = [contender.name for contender in setup.contenders]
        runs: list[RunResult] = []
        for round_no in range(1, options.rounds + 1):
            for contender in rotated(setup.contenders, round_no):
                label = f"{contender.name}-{round_no}"
                runs.append(measure(setup, contender, load, round_no, label))
                print(_progress(runs[-1]), flush=True)
        profiled = profile_runs(setup, load, folder, options.rounds + 1) if options.profile else []
    settings["loadAverage"]["after"] = _load_average()
    profile = profile_markdown(profiled, options.top, options.packages) if profiled else ""
    summary = markdown(settings, runs, names, profile)
    (folder / "summary.md").write_text(summary)
    results = {
        "settings": settings,
        "environment": describe_environment("SecantusDB (a data directory, --sync-on-commit)"),
        "runs": [{**asdict(run), **{f: FIGURES[f](run) for f in FIGURES}} for run in runs],
        "medians": {
            name: {figure: asdict(value) for figure, value in figures.items()}
            for name, figures in summaries(runs, names).items()
        },
        "ratios": {
            name: {figure: asdict(value) for figure, value in figures.items()}
            for name, figures in ratios(runs, names).items()
        },
        "profile": {
            entry.name: {"run": asdict(entry.run), "byPackageUs": entry.by_package_us()}
            for entry in profiled
        },
    }
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("\n" + summary)
    print(f"written to {folder}")
    return folder


def _progress(run: RunResult) -> str:
    return (
        f"round {run.round} {run.mode:10} {run.requests_per_second:6.0f} req/s, CPU-ms per "
        f"request: {CONTENDER} {cpu_ms(run, CONTENDER):.3f}, {DATABASE} "
        f"{cpu_ms(run, DATABASE):.3f}; database commands per request "
        f"{operations_per_request(run):.2f}; {failures(run)} failed"
    )


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    return exit_status(lambda: run(options), ProfilerError)


if __name__ == "__main__":
    sys.exit(main())
