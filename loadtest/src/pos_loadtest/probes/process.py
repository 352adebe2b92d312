"""What the system says about a process (all of them processes this tool started, so
readable by it): its command line, environment and resident memory, through psutil."""

from __future__ import annotations

import psutil


def command_line(pid: int) -> str:
    """What the process runs, as `ps` shows it."""
    return " ".join(psutil.Process(pid).cmdline())


def environment_variable(pid: int, name: str) -> str | None:
    """The value the process was started with, None if it was not set."""
    return psutil.Process(pid).environ().get(name)


def resident_bytes(pid: int) -> int:
    """The process's resident memory (VmRSS), in bytes."""
    return int(psutil.Process(pid).memory_info().rss)
