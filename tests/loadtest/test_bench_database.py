"""The database benchmark end to end, in a tiny configuration, against a real SecantusDB: every
row is measured without an error (a write that missed its version would count one), and the
database's CPU is read from the database process."""

from __future__ import annotations

import re
import subprocess
import sys

ROW = re.compile(
    r"^(?P<name>\S.*?|  \S.*?)\s+(?P<rps>\d+)\s+[\d.]+\s+[\d.]+\s+(?P<err>\d+)"
    r"\s+(?P<client>\d+)\s+(?P<database>\d+)(?P<ratios>\s+[\d.]+ \(.*\); [\d.]+ \(.*\))?$"
)
SUMMARY = re.compile(
    r"^(?P<op>write|read): client CPU per call (?P<total>-?\d+) us = (?P<wire>-?\d+) the wire \+ "
    r"(?P<driver>-?\d+) the driver \+ (?P<store>-?\d+) cart's store$"
)


def test_every_target_is_measured_with_the_database_cpu() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pos_loadtest.benches.database",
         "--seconds", "0.2", "--rounds", "2", "--concurrency", "4"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [m for line in result.stdout.splitlines() if (m := ROW.match(line))]
    names = [row["name"] for row in rows]
    assert names == [
        "write: cart's store", "  the driver alone", "write: bare wire",
        "read: cart's store", "  the driver alone", "read: bare wire",
    ], result.stdout  # fmt: skip
    for row in rows:
        assert int(row["rps"]) > 0, row["name"]
        assert int(row["err"]) == 0, result.stdout
        assert int(row["client"]) > 0, row["name"]
        assert int(row["database"]) > 0, row["name"]
        assert bool(row["ratios"]) == ("bare wire" not in row["name"]), row["name"]
    assert "secantusd" in result.stdout.split("database CPU read from pid", 1)[1].splitlines()[0]
    summaries = [m for line in result.stdout.splitlines() if (m := SUMMARY.match(line))]
    assert [m["op"] for m in summaries] == ["write", "read"], result.stdout
    client = {row["name"] + str(i): int(row["client"]) for i, row in enumerate(rows)}
    for summary, first in zip(summaries, (0, 3), strict=True):
        store, driver, wire = list(client.values())[first : first + 3]
        assert int(summary["wire"]) == wire
        # Each part is the difference of two rows (rounding: within 1 us).
        assert abs(int(summary["driver"]) - (driver - wire)) <= 1
        assert abs(int(summary["total"]) - store) <= 1
