"""CPU of process trees through psutil, checked against what real processes say of themselves
(os.times() reads the same kernel counters), and a service's database commands from /metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pos_loadtest.probes import cpu, process
from pos_loadtest.probes.database_operations import commands_sent
from pos_loadtest.probes.prometheus import Exposition

TICK = 1 / os.sysconf("SC_CLK_TCK")
"""The kernel keeps CPU time in clock ticks: a figure read twice may differ by one."""

BURN = """
import sys, time
end = time.process_time() + float(sys.argv[1])
with open("/dev/zero", "rb", buffering=0) as zero:  # system time (the reads), user time (sum)
    while time.process_time() < end:
        zero.read(1 << 16)
        sum(range(2000))
"""

WORKER = f"""
import os, subprocess, sys
BURN = {BURN!r}
exec(BURN.replace("float(sys.argv[1])", "0"))
kept = []
for line in sys.stdin:
    what, seconds = line.split()
    if what == "burn":
        exec(BURN.replace("float(sys.argv[1])", seconds))
    elif what == "reap":  # a child that burns, then is waited for
        subprocess.run([sys.executable, "-c", BURN, seconds], check=True)
    elif what == "keep":  # a child that burns, then waits for its stdin to close
        child = subprocess.Popen(
            [sys.executable, "-c", BURN + "sys.stdin.read()", seconds], stdin=subprocess.PIPE
        )
        kept.append(child)
    t = os.times()
    print(t.user + t.system, t.children_user + t.children_system, *(c.pid for c in kept),
          flush=True)
"""


@dataclass
class Worker:
    """A real process that burns CPU when told and says how much it has used (os.times())."""

    popen: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tell(self, what: str, seconds: float) -> tuple[float, float, list[int]]:
        """Its own and its reaped children's CPU seconds, and its live children, after `what`."""
        assert self.popen.stdin is not None
        assert self.popen.stdout is not None
        self.popen.stdin.write(f"{what} {seconds}\n")
        self.popen.stdin.flush()
        own, reaped, *kept = self.popen.stdout.readline().split()
        return float(own), float(reaped), [int(pid) for pid in kept]


@pytest.fixture
def worker() -> Iterator[Worker]:
    popen = subprocess.Popen(
        [sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield Worker(popen)
    finally:
        assert popen.stdin is not None
        popen.stdin.close()
        popen.wait(timeout=30)


def test_a_process_s_cpu_is_its_user_and_system_time(worker: Worker) -> None:
    own, _, _ = worker.tell("burn", 0.3)
    assert cpu.cpu_seconds(worker.pid) == pytest.approx(own, abs=2 * TICK)


def test_a_tree_is_the_process_its_descendants_and_what_it_reaped(worker: Worker) -> None:
    worker.tell("reap", 0.3)
    own, reaped, [kept] = worker.tell("keep", 0.0)
    assert reaped > 0  # the reaped child is in its figure
    assert [p.pid for p in cpu.process_tree(worker.pid)] == [worker.pid, kept]
    tree = cpu.tree_cpu_seconds(worker.pid)
    assert sorted(tree) == sorted([worker.pid, kept])
    assert tree[worker.pid] == pytest.approx(own + reaped, abs=4 * TICK)
    assert cpu.cpu_seconds(worker.pid) == pytest.approx(own, abs=2 * TICK)  # its own only


def test_the_probe_reads_each_name_s_own_tree(worker: Worker) -> None:
    before, reaped_before, _ = worker.tell("burn", 0.0)
    probe = cpu.CpuProbe({"worker": worker.pid})
    probe.open({"self": os.getpid()})
    own, reaped, _ = worker.tell("reap", 0.2)
    own, _, _ = worker.tell("burn", 0.2)
    probe.close()
    expected = own + reaped - before - reaped_before
    assert probe.used["worker"] == pytest.approx(expected, abs=4 * TICK)
    assert probe.used["self"] > 0
    assert probe.commands["worker"] == f"{sys.executable} -c {WORKER}"


def test_a_tree_that_ended_reads_as_nothing_used() -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait(timeout=30)
    assert cpu.tree_cpu_seconds(ended.pid) == {}


def test_growth_counts_newborns_from_zero() -> None:
    assert cpu.grown({1: 1.0, 2: 2.0}, {1: 1.5, 2: 2.25, 3: 0.5}) == pytest.approx(1.25)


def test_an_environment_variable_and_the_memory_of_a_process() -> None:
    env = {**os.environ, "POS_PROBE": "/a:/b"}
    env.pop("POS_ABSENT", None)
    holding = "import sys; held = bytearray(64 << 20); print(flush=True); sys.stdin.read()"
    sleeper = subprocess.Popen(
        [sys.executable, "-c", holding], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    try:
        assert sleeper.stdout is not None
        sleeper.stdout.readline()  # it holds its 64 MiB (zeroed, so resident)
        assert process.environment_variable(sleeper.pid, "POS_PROBE") == "/a:/b"
        assert process.environment_variable(sleeper.pid, "POS_ABSENT") is None
        assert process.resident_bytes(sleeper.pid) >= 64 << 20
    finally:
        assert sleeper.stdin is not None
        sleeper.stdin.close()
        sleeper.wait(timeout=30)


METRICS = """# HELP mongodb_commands_total MongoDB commands sent, by command name.
# TYPE mongodb_commands_total counter
mongodb_commands_total{command="find"} 3.0
mongodb_commands_total{command="update"} 4.0
mongodb_commands_other_total 100.0
"""


def test_database_commands_are_summed_and_an_absent_counter_is_none() -> None:
    assert commands_sent(Exposition.parse(METRICS)) == {"commands": 7.0}
    declared_only = "# TYPE mongodb_commands_total counter\n"
    assert commands_sent(Exposition.parse(declared_only)) == {"commands": 0.0}
    assert commands_sent(Exposition.parse("# TYPE http_requests_total counter\n")) is None
