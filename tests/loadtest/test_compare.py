"""The comparison runner end to end, in a tiny configuration: real processes, real locust."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pos_loadtest.report import ENDPOINT_ORDER, load_comparison, write_report

# The second mode also has the terminals send Idempotency-Key (what the comparison can weigh).
MODES = ["http-aiohttp", "grpc+keys"]


def test_runner_writes_a_report_with_both_modes_and_every_endpoint(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = subprocess.run(
        [
            sys.executable, "-m", "pos_loadtest.compare",
            "--modes", ",".join(MODES), "--rounds", "2", "--users", "2",
            "--seconds", "3", "--warmup", "1", "--items-per-cart", "2",
            "--cancel-share", "0.5", "--out", str(out),
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for name in ("summary.md", "report.html", "results.json", "throughput.png", "latency.png",
                 "masterdata.png", "ratios.png"):  # fmt: skip
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
        timing = [row for row in run["rows"] if row["kind"] == "masterdata"]
        transport = "grpc" if run["mode"].startswith("grpc") else "http"
        assert {row["name"].split(":")[0] for row in timing} == {transport}

    summary = (out / "summary.md").read_text()
    assert "**grpc+keys** against **http-aiohttp**" in summary
    for endpoint in ENDPOINT_ORDER:
        for mode in MODES:
            assert f"| {endpoint} | {mode} |" in summary
    html = (out / "report.html").read_text()
    assert '<img src="throughput.png"' in html
    # A report renders again from its results.json, to the same summary.
    write_report(load_comparison(out / "results.json"), out)
    assert (out / "summary.md").read_text() == summary
