"""What a run costs besides time: CPU seconds of each process, read from /proc (the figure
that decides what a fleet costs, and a much steadier one on a shared machine than wall-clock
throughput), and counters read from a service's /metrics (database commands sent).

Both are probes of locust_run.run_locust: opened and closed on exactly the counted window.

A process's CPU is that of its whole tree: itself, the descendants alive at the reading, and
the children it has reaped (the kernel adds theirs to its cutime/cstime). So a load generator
or server that forks workers is charged for them. A descendant reaped during the window brings
its CPU from before the window along with it: these processes do not fork while measured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from pos_loadtest.probes.process import children, command_line, stat_fields

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (its own, not its children's)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


def _own_and_reaped_seconds(pid: int) -> float:
    # utime, stime, cutime, cstime: fields 14 to 17 of proc(5), 11 to 14 after the command.
    fields = stat_fields(pid)
    return sum(int(value) for value in fields[11:15]) / _TICKS_PER_SECOND


def process_tree(pid: int) -> list[int]:
    """The process and its live descendants."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        try:
            pending += children(current)
        except FileNotFoundError:  # it ended meanwhile
            continue
    return tree


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds so far of each process of the tree, reaped children included."""
    used: dict[int, float] = {}
    for member in process_tree(pid):
        try:
            used[member] = _own_and_reaped_seconds(member)
        except FileNotFoundError:
            continue
    return used


def grown(start: Mapping[int, float], end: Mapping[int, float]) -> float:
    """CPU seconds a tree used between two readings; a process born in between counts from 0,
    one gone by the end is in its parent's reaped figure."""
    return sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items())


@dataclass
class CpuProbe:
    """CPU seconds of named process trees over the window (`pids`, and those given at open)."""

    pids: dict[str, int]
    used: dict[str, float] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    """The command line of each process read, so a report says what it measured."""
    _start: dict[str, dict[int, float]] = field(default_factory=dict)

    def open(self, pids: Mapping[str, int]) -> None:
        self.pids = {**self.pids, **pids}
        self.commands = {name: command_line(pid) for name, pid in self.pids.items()}
        self._start = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}

    def close(self) -> None:
        self.used = {
            name: grown(self._start[name], tree_cpu_seconds(pid)) for name, pid in self.pids.items()
        }


def counter_total(metrics_text: str, family: str) -> float | None:
    """The sum of a Prometheus counter family's samples (`<family>_total{...} <value>`), or
    None if the service does not expose the family (older code)."""
    total, seen = 0.0, False
    for line in metrics_text.splitlines():
        if line.startswith((f"{family}_total{{", f"{family}_total ")):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
        elif line.startswith((f"# TYPE {family} ", f"# TYPE {family}_total ")):
            seen = True  # declared, no sample yet: zero
    return total if seen else None


@dataclass
class CounterProbe:
    """How much a counter of a service's /metrics grew over the window (None: not exposed)."""

    metrics_url: str
    family: str
    grown: float | None = None
    _start: float | None = None

    def _read(self) -> float | None:
        return counter_total(httpx.get(self.metrics_url, timeout=10).text, self.family)

    def open(self, pids: Mapping[str, int]) -> None:
        self._start = self._read()

    def close(self) -> None:
        end = self._read()
        self.grown = None if end is None or self._start is None else end - self._start


def per_request_ms(seconds: Mapping[str, float], requests: int) -> dict[str, float]:
    """CPU-ms per request of each process (empty when nothing was served)."""
    return {name: used * 1000 / requests for name, used in seconds.items()} if requests else {}
