"""Runs locust headless as a child process (it monkey-patches with gevent, so never in ours)
and reads its per-endpoint statistics."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pos_devstack.paths import REPO_ROOT
from pos_devstack.processes import ManagedProcess

LOCUSTFILE = REPO_ROOT / "loadtest" / "locustfile.py"


@dataclass(frozen=True)
class LoadSettings:
    users: int
    seconds: float
    warmup_seconds: float
    items_per_cart: int
    cancel_share: float
    think_time: float


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


def _number(value: str) -> float:
    return float(value) if value not in ("", "N/A") else float("nan")


def read_stats(path: Path) -> list[EndpointStats]:
    with path.open(newline="") as stats_file:
        rows = list(csv.DictReader(stats_file))
    return [
        EndpointStats(
            kind=row["Type"],
            name=row["Name"],
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            rps=_number(row["Requests/s"]),
            p50_ms=_number(row["50%"]),
            p95_ms=_number(row["95%"]),
            p99_ms=_number(row["99%"]),
            average_ms=_number(row["Average Response Time"]),
        )
        for row in rows
        if row["Name"] != "Aggregated"
    ]


class Probe(Protocol):
    """Something measured over exactly the counted seconds of a run (CPU time, counters)."""

    def open(self, pids: Mapping[str, int]) -> None: ...

    def close(self) -> None: ...


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def run_locust(
    host: str,
    keys_file: Path,
    items_file: Path,
    load: LoadSettings,
    out_prefix: Path,
    seed: int,
    idempotency_keys: bool = False,
    probes: Sequence[Probe] = (),
) -> list[EndpointStats]:
    """One bounded locust run. Users start over the warm-up, then statistics are reset, so
    only the `load.seconds` that follow count; `probes` are opened and closed on that same
    window (given locust's own pid as "locust")."""
    spawn_rate = max(1.0, load.users / max(load.warmup_seconds, 0.1))
    run_time = max(1, round(load.warmup_seconds + load.seconds))
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", host, "-u", str(load.users), "-r", f"{spawn_rate:g}",
        "-t", f"{run_time}s", "--reset-stats", "--stop-timeout", "2",
        "--csv", str(out_prefix), "--only-summary", "--loglevel", "WARNING",
        "--exit-code-on-error", "0",
        "--keys-file", str(keys_file), "--items-file", str(items_file),
        "--items-per-cart", str(load.items_per_cart),
        "--cancel-share", str(load.cancel_share),
        "--think-time", str(load.think_time), "--seed", str(seed),
        *(["--idempotency-keys"] if idempotency_keys else []),
    ]  # fmt: skip
    process = ManagedProcess(
        "locust", argv, env={}, log_path=out_prefix.with_suffix(".log")
    ).start()
    assert process.popen is not None
    started = time.monotonic()
    try:
        if probes:
            _sleep_until(started + load.warmup_seconds)
            for probe in probes:
                probe.open({"locust": process.pid})
            _sleep_until(started + load.warmup_seconds + load.seconds)
            for probe in probes:
                probe.close()
        # Bounded: locust stops itself after run_time; this is the safety net.
        process.popen.wait(timeout=max(1.0, started + run_time + 60 - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.stop()
        raise RuntimeError(f"locust did not stop by itself:\n{process.log_tail()}") from None
    process.stop()
    stats_path = Path(f"{out_prefix}_stats.csv")
    if not stats_path.exists():
        raise RuntimeError(f"locust wrote no statistics:\n{process.log_tail()}")
    return read_stats(stats_path)
