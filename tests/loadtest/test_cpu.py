"""CPU of process trees from /proc, and counters from /metrics (a made-up /proc here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pos_loadtest.probes import cpu
from pos_loadtest.probes import process as procfs

TICKS = os.sysconf("SC_CLK_TCK")


def _process(
    proc: Path, pid: int, ticks: tuple[int, int, int, int], children: list[int], command: str
) -> None:
    utime, stime, cutime, cstime = ticks
    (proc / str(pid) / "task" / str(pid)).mkdir(parents=True, exist_ok=True)
    # A command with a space and a parenthesis, as real ones can have.
    fields = ["S", "1", *["0"] * 9, str(utime), str(stime), str(cutime), str(cstime), "20"]
    (proc / str(pid) / "stat").write_text(f"{pid} (odd) name) " + " ".join(fields))
    (proc / str(pid) / "task" / str(pid) / "children").write_text(" ".join(map(str, children)))
    (proc / str(pid) / "cmdline").write_bytes(command.replace(" ", "\0").encode() + b"\0")
    (proc / str(pid) / "environ").write_bytes(b"HOME=/root\0PYTHONPATH=/a:/b\0")


@pytest.fixture
def proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(procfs, "PROC", tmp_path)
    return tmp_path


def test_a_tree_is_the_process_its_descendants_and_what_it_reaped(proc: Path) -> None:
    _process(proc, 100, (10, 5, 3, 2), [101], "python -m locust")
    _process(proc, 101, (20, 10, 0, 0), [102], "locust worker")
    _process(proc, 102, (1, 1, 0, 0), [], "locust worker child")
    _process(proc, 200, (7, 0, 0, 0), [], "python -m cart")
    assert sorted(cpu.process_tree(100)) == [100, 101, 102]
    assert cpu.tree_cpu_seconds(100) == {100: 20 / TICKS, 101: 30 / TICKS, 102: 2 / TICKS}
    assert cpu.cpu_seconds(100) == 15 / TICKS  # its own only
    assert procfs.command_line(200) == "python -m cart"


def test_an_environment_variable_of_a_process(proc: Path) -> None:
    _process(proc, 100, (0, 0, 0, 0), [], "python -m cart")
    assert procfs.environment_variable(100, "PYTHONPATH") == "/a:/b"
    assert procfs.environment_variable(100, "PYTHON") is None


def test_growth_counts_newborns_from_zero() -> None:
    assert cpu.grown({1: 1.0, 2: 2.0}, {1: 1.5, 2: 2.25, 3: 0.5}) == pytest.approx(1.25)


def test_the_probe_reads_each_name_s_own_tree(proc: Path) -> None:
    _process(proc, 100, (0, 0, 0, 0), [], "python -m cart")
    _process(proc, 300, (0, 0, 0, 0), [301], "python -m locust")
    _process(proc, 301, (0, 0, 0, 0), [], "locust worker")
    probe = cpu.CpuProbe({"cart": 100})
    probe.open({"locust": 300})
    _process(proc, 100, (50, 0, 0, 0), [], "python -m cart")
    _process(proc, 300, (10, 0, 0, 0), [301], "python -m locust")
    _process(proc, 301, (30, 0, 0, 0), [], "locust worker")
    probe.close()
    assert probe.used == {"cart": 50 / TICKS, "locust": 40 / TICKS}
    assert probe.commands == {"cart": "python -m cart", "locust": "python -m locust"}


def test_this_process_tree_is_readable_for_real() -> None:
    assert os.getpid() in cpu.process_tree(os.getpid())
    assert cpu.tree_cpu_seconds(os.getpid())[os.getpid()] > 0


METRICS = """# HELP mongodb_commands_total MongoDB commands sent, by command name.
# TYPE mongodb_commands_total counter
mongodb_commands_total{command="find"} 3.0
mongodb_commands_total{command="update"} 4.0
mongodb_commands_other_total 100.0
"""


def test_a_counter_family_is_summed_and_an_absent_one_is_none() -> None:
    assert cpu.counter_total(METRICS, "mongodb_commands") == 7.0
    declared_only = "# TYPE mongodb_commands_total counter\n"
    assert cpu.counter_total(declared_only, "mongodb_commands") == 0.0
    assert cpu.counter_total("# TYPE http_requests_total counter\n", "mongodb_commands") is None
