"""The floor bench end to end, in a tiny configuration (one round of 2 s, 2 terminals, cart over
HTTP and the bare cart): real processes, real locust; every contender's row is there with its
CPU per request, the ratio is computed, and the database received as many commands per request
from the bare cart as from cart. No timing threshold: the figures of so short a run are noise.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

CONTENDERS = ["cart-http", "bare"]
PROCESS_COMMANDS = {
    "cart": {"cart-http": "-m cart", "bare": "-m pos_loadtest.benches.floor.bare_cart"},
    "database": {"cart-http": "secantusd", "bare": "secantusd"},
}


def test_every_contender_is_measured_and_the_ratio_computed(tmp_path: Path) -> None:
    out = tmp_path / "floor"
    result = subprocess.run(
        [sys.executable, "-m", "pos_loadtest.benches.floor.runner", "--rounds", "1",
         "--seconds", "2", "--warmup", "1", "--users", "2", "--transports", "http",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    runs = {run["mode"]: run for run in results["runs"]}
    assert sorted(runs) == sorted(CONTENDERS)
    for name, run in runs.items():
        assert run["round"] == 1
        assert run["cartCpuMs"] > 0, name
        assert run["databaseCpuMs"] > 0, name
        assert run["rps"] > 0, name
        assert all(row["failures"] == 0 for row in run["rows"]), (name, run["rows"])
        for process, commands in PROCESS_COMMANDS.items():
            assert commands[name] in run["cpu_processes"][process], (name, process)
    ratio = results["ratios"]["cart-http"]
    assert ratio["cartCpuMs"]["value"] > 0
    assert math.isclose(
        ratio["cartCpuMs"]["value"], runs["cart-http"]["cartCpuMs"] / runs["bare"]["cartCpuMs"]
    )
    # The same database work per request: only the window's edges (calls in flight) and the
    # drivers' heartbeats tell them apart.
    assert abs(ratio["databaseOperations"]["value"] - 1) < 0.1, ratio
    summary = (out / "summary.md").read_text()
    assert "| cart-http / bare |" in summary
    assert summary in result.stdout
