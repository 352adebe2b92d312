"""The transport benchmark end to end, in a tiny configuration: real master-data, real bare
servers; every row is measured, and its CPU is read from the process that answered it."""

from __future__ import annotations

import re
import subprocess
import sys

ROW = re.compile(
    r"^\s+(?P<conc>\d+)\s{2}(?P<name>\S.*?)\s+(?P<rps>\d+)\s+[\d.]+\s+[\d.]+\s+(?P<err>\d+)"
    r"\s+(?P<client>\d+)\s+(?P<server>\d+)(?P<ratios>\s+[\d.]+ \(.*\); [\d.]+ \(.*\))?$"
)


def test_every_target_is_measured_with_its_cpu() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pos_loadtest.benches.transport",
         "--seconds", "0.2", "--rounds", "2", "--concurrency", "8"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {m["name"]: m for line in result.stdout.splitlines() if (m := ROW.match(line))}
    libraries = ("aiohttp", "httpx", "httpx-aiohttp")
    expected = {"gRPC repository", "gRPC bare pair"} | {
        f"HTTP {role} ({library})" for role in ("repository", "bare pair") for library in libraries
    }
    assert set(rows) == expected, result.stdout
    for name, row in rows.items():
        assert int(row["rps"]) > 0, name
        assert int(row["err"]) == 0, name
        assert int(row["client"]) > 0, name
        # A bare pair's server is not master-data: counting the wrong process reads ~0 here.
        assert int(row["server"]) > 0, name
        assert bool(row["ratios"]) == ("repository" in name), name
    verdicts = [line for line in result.stdout.splitlines() if "of its bare pair's" in line]
    assert len(verdicts) == 4, result.stdout
    servers = result.stdout.split("server CPU read from:\n", 1)[1].split("\n\n", 1)[0]
    for line in servers.splitlines():
        name, command = line.strip().split(" pid ", 1)
        answering = (
            "-m master_data" if "repository" in name else "-m pos_loadtest.benches.bare_servers"
        )
        assert answering in command, line
