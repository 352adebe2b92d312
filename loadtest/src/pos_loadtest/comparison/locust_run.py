"""Runs locust headless as a child process (it monkey-patches with gevent, so never in ours)
and reads its per-endpoint statistics over the measured window.

The window is the locustfile's. Users start over the first half of the warm-up and run for the
second half; then the statistics are reset and the window opens (it writes PREFIX.open), and
closes `seconds` later (it writes PREFIX.json with what it counted, then stops). The probes
are opened as soon as PREFIX.open appears and closed `seconds` after that, so CPU readings and
request counts cover the same seconds (to within the polling interval below).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import ManagedProcess
from pos_loadtest.comparison.scenario import WINDOW_OPEN_SUFFIX, WINDOW_STATS_SUFFIX

LOCUSTFILE = REPO_ROOT / "loadtest" / "locustfile.py"


@dataclass(frozen=True)
class LoadSettings:
    users: int
    seconds: float
    warmup_seconds: float
    items_per_cart: int
    cancel_share: float
    think_time: float
    arrival_rate: float = 0.0
    """Sales started per second, whatever cart's speed (an open loop); 0: closed loop."""

    @classmethod
    def of(cls, options: Any, think_time: float | None = None) -> LoadSettings:
        """The closed-loop load a command's options describe (--users, --seconds, --warmup,
        --items-per-cart, --cancel-share, and --think-time unless `think_time` is given)."""
        return cls(
            users=options.users,
            seconds=options.seconds,
            warmup_seconds=options.warmup,
            items_per_cart=options.items_per_cart,
            cancel_share=options.cancel_share,
            think_time=options.think_time if think_time is None else think_time,
        )


@dataclass(frozen=True)
class EndpointStats:
    """One locust stats row: an endpoint (or a master-data timing entry) in one run."""

    kind: str
    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    average_ms: float


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def read_window(path: Path) -> tuple[float, list[EndpointStats]]:
    """The window's length in seconds and its rows, as the locustfile wrote them."""
    window = json.loads(path.read_text())
    rows = [
        EndpointStats(
            kind=row["kind"],
            name=row["name"],
            requests=int(row["requests"]),
            failures=int(row["failures"]),
            rps=_number(row["rps"]),
            p50_ms=_number(row["p50_ms"]),
            p95_ms=_number(row["p95_ms"]),
            p99_ms=_number(row["p99_ms"]),
            average_ms=_number(row["average_ms"]),
        )
        for row in window["rows"]
    ]
    return float(window["seconds"]), rows


@dataclass(frozen=True)
class Window:
    """What one locust run counted over its measured window."""

    seconds: float
    rows: list[EndpointStats]


class Probe(Protocol):
    """Something measured over exactly the counted seconds of a run (CPU time, counters)."""

    def open(self, pids: Mapping[str, int]) -> None: ...

    def close(self) -> None: ...


_POLL_SECONDS = 0.01
# Slack past the expected end of a run before it counts as hung: locust's start-up on a busy
# two-core machine takes a few seconds.
_START_SLACK_SECONDS = 60.0


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _wait_for_file(path: Path, process: ManagedProcess, deadline: float) -> None:
    while not path.exists():
        if not process.running():
            raise RuntimeError(f"locust stopped before its window opened:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            process.stop()
            raise RuntimeError(f"locust's window did not open in time:\n{process.log_tail()}")
        time.sleep(_POLL_SECONDS)


@dataclass
class LocustRun:
    """A locust process started for one run, not yet measured."""

    process: ManagedProcess
    load: LoadSettings
    out_prefix: Path
    deadline: float
    """When the run counts as hung (monotonic clock)."""

    def stop(self) -> None:
        self.process.stop()


def start_locust(
    host: str,
    keys_file: Path,
    items_file: Path,
    load: LoadSettings,
    out_prefix: Path,
    seed: int,
    idempotency_keys: bool = False,
    wait_for_host_seconds: float = 0.0,
) -> LocustRun:
    """Starts locust; with `wait_for_host_seconds`, it first waits (that long at most) for
    `host` to answer, so it can start while cart is still starting (both take seconds)."""
    settle_seconds = load.warmup_seconds / 2
    spawn_rate = max(1.0, load.users / max(settle_seconds, 0.05))
    # Only a safety net: the locustfile stops locust when its window closes. By then the
    # window's figures are written, so the users' last calls are cut (--stop-timeout 0).
    run_time = round(load.warmup_seconds + load.seconds + _START_SLACK_SECONDS)
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", host, "-u", str(load.users), "-r", f"{spawn_rate:g}",
        "-t", f"{run_time}s", "--stop-timeout", "0",
        "--csv", str(out_prefix), "--only-summary", "--loglevel", "WARNING",
        "--exit-code-on-error", "0",
        "--keys-file", str(keys_file), "--items-file", str(items_file),
        "--items-per-cart", str(load.items_per_cart),
        "--cancel-share", str(load.cancel_share),
        "--think-time", str(load.think_time), "--seed", str(seed),
        "--arrival-rate", f"{load.arrival_rate:g}",
        "--window-file", str(out_prefix), "--settle-seconds", f"{settle_seconds:g}",
        "--measure-seconds", f"{load.seconds:g}",
        "--wait-for-host", f"{wait_for_host_seconds:g}",
        *(["--idempotency-keys"] if idempotency_keys else []),
    ]  # fmt: skip
    process = ManagedProcess(
        "locust", argv, env={}, log_path=out_prefix.with_suffix(".log")
    ).start()
    deadline = time.monotonic() + wait_for_host_seconds + run_time + 30
    return LocustRun(process, load, out_prefix, deadline)


def wait_for_window(run: LocustRun) -> None:
    """Until the run's users are past their warm-up (its window opened); bounded by the run's
    deadline."""
    _wait_for_file(Path(f"{run.out_prefix}{WINDOW_OPEN_SUFFIX}"), run.process, run.deadline)


def measure_window(
    run: LocustRun, probes: Sequence[Probe] = (), pids: Mapping[str, int] | None = None
) -> Window:
    """Waits for the window; `probes` are opened and closed on it, given `pids` and locust's
    own as "locust". Bounded by the run's deadline; locust is stopped however this ends."""
    process = run.process
    assert process.popen is not None
    try:
        wait_for_window(run)
        opened = time.monotonic()
        for probe in probes:
            probe.open({**(pids or {}), "locust": process.pid})
        _sleep_until(opened + run.load.seconds)
        for probe in probes:
            probe.close()
        process.popen.wait(timeout=max(1.0, run.deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"locust did not stop by itself:\n{process.log_tail()}") from None
    finally:
        process.stop()
    window_stats = Path(f"{run.out_prefix}{WINDOW_STATS_SUFFIX}")
    if not window_stats.exists():
        raise RuntimeError(f"locust wrote no statistics:\n{process.log_tail()}")
    seconds, rows = read_window(window_stats)
    return Window(seconds, rows)


def run_locust(
    host: str,
    keys_file: Path,
    items_file: Path,
    load: LoadSettings,
    out_prefix: Path,
    seed: int,
    idempotency_keys: bool = False,
    probes: Sequence[Probe] = (),
) -> Window:
    """One bounded locust run against a host that answers already. Users start over the
    first half of the warm-up and settle over the second (a single user starts at once),
    then the `load.seconds` of the window are counted; `probes` are opened and closed on that
    same window."""
    started = start_locust(host, keys_file, items_file, load, out_prefix, seed, idempotency_keys)
    return measure_window(started, probes)
