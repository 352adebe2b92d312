"""What a run costs besides time: CPU seconds of each process, read through psutil (the
figure that decides what a fleet costs, and a much steadier one on a shared machine than
wall-clock throughput).

CpuProbe is a probe of locust_run.run_locust: opened and closed on exactly the counted window.

A process's CPU is that of its whole tree: itself, the descendants alive at the reading, and
the children it has reaped (the kernel adds theirs to its children's user and system times).
So a load generator or server that forks workers is charged for them. A descendant reaped
during the window brings its CPU from before the window along with it: these processes do not
fork while measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import psutil

from pos_loadtest.probes.process import command_line


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (its own, not its children's)."""
    used = psutil.Process(pid).cpu_times()
    return float(used.user + used.system)


def _own_and_reaped_seconds(process: psutil.Process) -> float:
    used = process.cpu_times()
    return float(used.user + used.system + used.children_user + used.children_system)


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and its live descendants."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds so far of each process of the tree, reaped children included."""
    used: dict[int, float] = {}
    try:
        tree = process_tree(pid)
    except psutil.NoSuchProcess:  # it ended: nothing more to count
        return used
    for member in tree:
        try:
            used[member.pid] = _own_and_reaped_seconds(member)
        except psutil.NoSuchProcess:  # it ended meanwhile: its parent has its figure
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


def per_request_ms(seconds: Mapping[str, float], requests: int) -> dict[str, float]:
    """CPU-ms per request of each process (empty when nothing was served)."""
    return {name: used * 1000 / requests for name, used in seconds.items()} if requests else {}
