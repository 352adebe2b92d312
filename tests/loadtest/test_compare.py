"""The comparison runner end to end, in a tiny configuration: real processes, real locust."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pos_devstack.paths import REPO_ROOT
from pos_loadtest.report.cost_sections import LOOKUPS_HEADING
from pos_loadtest.report.write import ENDPOINT_ORDER, load_comparison, write_report

# Both with the fed item cache (so the propagation phase has a mode of each transport); the
# second also has the terminals send Idempotency-Key (what the comparison can weigh).
MODES = ["http-aiohttp", "grpc+keys"]
# Two changes per transport; a limit far above anything seen, so a failure means a change
# that never showed, not a slow machine.
PROPAGATION = ["--propagation-changes", "2", "--propagation-limit", "30"]
TINY = ["--users", "2", "--seconds", "2", "--warmup", "1", "--items-per-cart", "2",
        "--cancel-share", "0.5"]  # fmt: skip
# Which process each CPU figure was read from: a swapped pid shows here.
PROCESS_COMMANDS = {
    "cart": "-m cart",
    "master-data": "-m master_data",
    "database": "secantusd",
    "locust": "-m locust",
}


def _compare(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pos_loadtest.comparison.runner", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _section(summary: str, heading: str) -> str:
    assert f"## {heading}" in summary, heading
    return summary.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def _assert_costs_measured(run: dict[str, Any]) -> None:
    for process, command in PROCESS_COMMANDS.items():
        assert run["cpu_seconds"][process] > 0, (run["mode"], process)
        assert command in run["cpu_processes"][process], (process, run["cpu_processes"])
    assert run["database_operations"] > 0, run["mode"]
    assert run["stored_carts_at_start"] == 0, run["mode"]
    assert run["master_data_calls"] >= 0, run["mode"]


def test_runner_writes_a_report_with_both_modes_and_every_endpoint(tmp_path: Path) -> None:
    out = tmp_path / "report"
    _compare(
        "--modes", ",".join(MODES), "--rounds", "2", *TINY, "--open-loop-seconds", "2",
        "--open-loop-shares", "0.5", "--unloaded-seconds", "2", *PROPAGATION, "--out", str(out),
    )  # fmt: skip

    for name in ("summary.md", "report.html", "results.json", "throughput.png", "latency.png",
                 "masterdata.png", "ratios.png", "cost.png"):  # fmt: skip
        assert (out / name).exists(), name
    for chart in out.glob("*.png"):
        assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), chart

    results = json.loads((out / "results.json").read_text())
    assert [mode["name"] for mode in results["modes"]] == MODES
    assert results["environment"]["cpuCount"] >= 1
    runs = results["runs"]
    assert sorted((run["mode"], run["round"]) for run in runs) == sorted(
        (mode, round_number) for mode in MODES for round_number in (1, 2)
    )
    for run in runs:
        cart_rows = {row["name"]: row for row in run["rows"] if row["kind"] != "masterdata"}
        assert set(cart_rows) == set(ENDPOINT_ORDER), run["mode"]
        assert all(row["failures"] == 0 for row in cart_rows.values()), cart_rows
        assert cart_rows["POST /carts/{id}/lineItems"]["requests"] > 0
        # With the cache, only its misses call master-data: there may be none in the window.
        timing = [row for row in run["rows"] if row["kind"] == "masterdata"]
        transport = "grpc" if run["mode"].startswith("grpc") else "http"
        assert {row["name"].split(":")[0] for row in timing} <= {transport}
        _assert_costs_measured(run)
        assert run["item_cache_hits"] + run["item_cache_misses"] > 0, run["mode"]
        # The cross-check: cart's own count of the commands it sent, where its code has one.
        assert run["database_commands"] > 0

    summary = (out / "summary.md").read_text()
    assert "**grpc+keys** against **http-aiohttp**" in summary
    assert "each run starts with 0 stored carts" in summary
    for endpoint in ENDPOINT_ORDER:
        for mode in MODES:
            assert f"| {endpoint} | {mode} |" in summary
    cpu_table = _section(summary, "Cost per request: CPU (closed loop)")
    operations_table = _section(summary, "Cost per request: database operations (closed loop)")
    for mode in MODES:
        cells = next(line for line in cpu_table.splitlines() if line.startswith(f"| {mode} |"))
        # req/s, add-item p50, then CPU-ms/request of cart, master-data, database, locust
        # and the services together: every one a positive number.
        figures = [cell.strip().split(" ")[0] for cell in cells.split("|")[2:-1]]
        assert len(figures) == 7, cells
        assert all(float(figure) > 0 for figure in figures), cells
        cells = next(line for line in operations_table.splitlines() if f"| {mode} |" in line)
        assert float(cells.split("|")[2].split()[0]) > 0, cells
    lookups = _section(summary, LOOKUPS_HEADING)
    for mode in MODES:
        assert f"| {mode} | fed by the catalog feed | " in lookups
        cells = next(line for line in lookups.splitlines() if line.startswith(f"| {mode} |"))
        assert float(cells.split("|")[3].split()[0]) >= 0, cells
        assert cells.split("|")[4].strip()[0].isdigit(), cells  # a ratio, not n/a

    # Propagation: per transport two cart processes, each change shown by both.
    assert [run["mode"] for run in results["propagation"]] == MODES
    for run in results["propagation"]:
        assert run["error"] is None, run["error"]
        assert run["processes"] == 2
        assert len(run["changes"]) == 2
        for change in run["changes"]:
            assert all(seconds is not None for seconds in change["seconds"]), change
        assert all(lag is not None and lag["count"] >= 1 for lag in run["feed_lag"]), run
    shown = _section(summary, "Propagation: a price change under load, until every cart")
    for mode in MODES:
        assert f"| {mode} | every process | 2 | 2 | 0 |" in shown
        for process in (1, 2):
            assert f"| {mode} | process {process} | 2 | 2 | 0 |" in shown
    assert "the goal (p99 at most 1 s, every change shown) is" in shown
    assert "FAILED" not in shown
    lag = _section(summary, "Propagation: the catalog feed's own lag")
    assert all(f"| {mode} | both |" in lag for mode in MODES)

    # Open loop: each mode offered half its capacity, and what it achieved.
    assert sorted(run["mode"] for run in results["open_loop"]) == sorted(MODES)
    for run in results["open_loop"]:
        assert run["load_share"] == 0.5
        assert run["offered_sales_per_second"] > 0
        assert run["users"] == 4  # twice the closed loop's terminals
        assert any(row["kind"] == "arrival" and row["requests"] > 0 for row in run["rows"])
        _assert_costs_measured(run)
    offered = _section(summary, "Open loop: offered and achieved arrival rates")
    open_latency = _section(summary, "Open loop: what a terminal sees per call")
    for mode in MODES:
        assert f"| {mode} | 50% | 4 |" in offered
        assert f"| POST /carts/{{id}}/lineItems | {mode} | 50% |" in open_latency

    # Unloaded: one terminal per mode, and the claim put next to it.
    assert sorted(run["mode"] for run in results["unloaded"]) == sorted(MODES)
    assert all(run["users"] == 1 for run in results["unloaded"])
    unloaded = _section(summary, "Unloaded hop: one terminal, no think time")
    for mode in MODES:
        row = next(line for line in unloaded.splitlines() if line.startswith(
            f"| POST /carts/{{id}}/lineItems | {mode} | one terminal |"))  # fmt: skip
        assert float(row.split("|")[4]) > 0, row  # NaN is not either
    assert 'Against the claim "HTTP 130-150 ms, gRPC 2-5 ms per call"' in unloaded

    html = (out / "report.html").read_text()
    assert '<img src="cost.png"' in html
    assert "Open loop: offered and achieved arrival rates" in html
    # A report renders again from its results.json, to the same summary.
    write_report(load_comparison(out / "results.json"), out)
    assert (out / "summary.md").read_text() == summary


def _worktrees() -> set[str]:
    listing = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "worktree", "list", "--porcelain"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {line for line in listing.splitlines() if line.startswith("worktree ")}


def test_baseline_ref_runs_cart_from_a_temporary_worktree(tmp_path: Path) -> None:
    before = _worktrees()
    out = tmp_path / "report"
    # Without the cache: no mode to take to the propagation phase, which is then skipped.
    _compare(
        "--modes", "grpc+nocache", "--rounds", "1", *TINY, "--no-open-loop", "--no-unloaded",
        "--baseline-ref", "HEAD", "--out", str(out),
    )  # fmt: skip
    assert _worktrees() == before  # the baseline's checkout is gone

    results = json.loads((out / "results.json").read_text())
    modes = {mode["name"]: mode["description"] for mode in results["modes"]}
    assert list(modes) == ["grpc+nocache", "grpc+nocache@HEAD"]
    assert modes["grpc+nocache@HEAD"].endswith("cart's code as of HEAD")
    assert sorted(run["mode"] for run in results["runs"]) == ["grpc+nocache", "grpc+nocache@HEAD"]
    for run in results["runs"]:
        _assert_costs_measured(run)
        # Every item scanned and every payment asks master-data: as many calls as those,
        # give or take the calls in flight as the window opened and closed.
        asked = sum(
            row["requests"]
            for row in run["rows"]
            if row["kind"] == "POST" and row["name"].endswith(("/lineItems", "/payments"))
        )
        assert 0.5 * asked <= run["master_data_calls"] <= 1.5 * asked, (asked, run)
        assert run["item_cache_hits"] is None  # USE_ITEM_CACHE=false: no cache to count
    # The older cart ran from the worktree's code (the runner checked it imports from there).
    code = {run["mode"]: run["cart_pythonpath"] for run in results["runs"]}
    assert code["grpc+nocache"] == os.environ.get("PYTHONPATH")  # what it inherited, if any
    worktree_code = code["grpc+nocache@HEAD"].split(":")
    assert worktree_code[0].endswith("/services/cart/src"), worktree_code
    assert "/baseline-" in worktree_code[0]
    assert results["open_loop"] == []
    assert results["unloaded"] == []
    assert results["propagation"] == []
    summary = (out / "summary.md").read_text()
    assert "**grpc+nocache@HEAD** against **grpc+nocache**" in summary
    assert "| database operations/request (at the database) | grpc+nocache@HEAD |" in summary
    assert "| grpc+nocache | off (+nocache) | " in summary
    assert "| grpc+nocache@HEAD | USE_ITEM_CACHE=false (that code's) | " in summary
    assert summary.count("| n/a (no cache) |") == 2
