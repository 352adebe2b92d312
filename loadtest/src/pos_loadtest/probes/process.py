"""What Linux's /proc says about a process: its CPU counters, children, command line and
environment (all of them processes this tool started, so readable by it)."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command's closing parenthesis (a command may
    hold spaces and parentheses itself): the state first, utime at index 11."""
    text = (PROC / str(pid) / "stat").read_text()
    return text.rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The live children of a process (of every one of its threads)."""
    found: list[int] = []
    for task in (PROC / str(pid) / "task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return found


def command_line(pid: int) -> str:
    """What the process runs, as `ps` shows it."""
    raw = (PROC / str(pid) / "cmdline").read_bytes()
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def environment_variable(pid: int, name: str) -> str | None:
    """The value the process was started with, None if it was not set."""
    prefix = f"{name}=".encode()
    for entry in (PROC / str(pid) / "environ").read_bytes().split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def resident_bytes(pid: int) -> int:
    """The process's resident memory (VmRSS), in bytes."""
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for process {pid}")
