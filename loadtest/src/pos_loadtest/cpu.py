"""What a run costs besides time: CPU seconds of each process, read from /proc (the figure
that decides what a fleet costs, and a much steadier one on a shared machine than wall-clock
throughput), and counters read from a service's /metrics (database commands sent).

Both are probes of locust_run.run_locust: opened and closed on exactly the counted window.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (its own, not its children's)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # Counting from the state after the command's closing parenthesis: utime, stime.
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


@dataclass
class CpuProbe:
    """CPU seconds of named processes over the window (`pids`, and those given at open)."""

    pids: dict[str, int]
    used: dict[str, float] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)

    def open(self, pids: Mapping[str, int]) -> None:
        self.pids = {**self.pids, **pids}
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def close(self) -> None:
        self.used = {name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}


def counter_total(metrics_text: str, family: str) -> float:
    """The sum of a Prometheus counter family's samples (`<family>_total{...} <value>`)."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith((f"{family}_total{{", f"{family}_total ")):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class CounterProbe:
    """How much a counter of a service's /metrics grew over the window."""

    metrics_url: str
    family: str
    grown: float = 0.0
    _start: float = 0.0

    def _read(self) -> float:
        return counter_total(httpx.get(self.metrics_url, timeout=10).text, self.family)

    def open(self, pids: Mapping[str, int]) -> None:
        self._start = self._read()

    def close(self) -> None:
        self.grown = self._read() - self._start


def per_request_ms(seconds: Mapping[str, float], requests: int) -> dict[str, float]:
    """CPU-ms per request of each process (empty when nothing was served)."""
    return {name: used * 1000 / requests for name, used in seconds.items()} if requests else {}
