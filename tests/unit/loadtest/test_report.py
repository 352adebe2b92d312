"""The report from made-up results: cost columns, what is not measured, older code."""

from __future__ import annotations

from pathlib import Path

from pos_devstack.paths import REPO_ROOT
from pos_loadtest.report.write import load_comparison, ratio_rows, write_report
from tests.unit.loadtest.fabricated import comparison, run


def test_cost_columns_say_what_was_not_measured(tmp_path: Path) -> None:
    runs = []
    for r in (1, 2):
        # Behind MONGODB_URI there is no database process to read; old code has no counter.
        runs.append(run("grpc", r, cpu={"cart": 3.5, "master-data": 0.7, "locust": 0.7}))
        runs.append(run("grpc@old", r, cpu={"cart": 7.0, "master-data": 0.7}, cart_count=None))
    summary = write_report(comparison(["grpc", "grpc@old"], runs), tmp_path).read_text()
    assert "| grpc | 70.0 | 10.0 | 5.00 (5.00 to 5.00) | 1.00 (1.00 to 1.00) | not measured |" in (
        summary
    )
    assert "| grpc@old | 2.00 (2.00 to 2.00) | not exposed by this code | 0.10" in summary
    assert (tmp_path / "cost.png").read_bytes().startswith(b"\x89PNG")
    cart_cpu = [row for row in ratio_rows(load_comparison(tmp_path / "results.json"))
                if row.figure == "cart CPU-ms/request"]  # fmt: skip
    assert [(row.mode, round(row.ratio.value, 2)) for row in cart_cpu] == [("grpc@old", 2.0)]


def test_results_of_the_earlier_format_still_render(tmp_path: Path) -> None:
    # A recorded run from before the cost and terminal sections.
    recorded = Path(__file__).parent / "data" / "results-before-cost-columns.json"
    summary = write_report(load_comparison(recorded), tmp_path).read_text()
    assert "## Cost per request: CPU (closed loop)" in summary
    assert "## Open loop" not in summary


def test_the_recorded_comparison_renders_again_to_its_summary(tmp_path: Path) -> None:
    recorded = REPO_ROOT / "docs" / "comparison"
    summary = write_report(load_comparison(recorded / "results.json"), tmp_path).read_text()
    assert summary == (recorded / "summary.md").read_text()
    assert "## Open loop: what a terminal sees per call" in summary


def test_every_phase_renders_again_from_results_json(tmp_path: Path) -> None:
    closed = [run(mode, r) for r in (1, 2) for mode in ("http-aiohttp", "grpc")]
    compared = comparison(["http-aiohttp", "grpc"], closed)
    for mode in ("http-aiohttp", "grpc"):
        open_run = run(mode, 1)
        open_run.load_share = 0.5
        open_run.offered_sales_per_second = 10.0
        open_run.offered_requests_per_second = 88.0
        compared.open_loop.append(open_run)
        compared.unloaded.append(run(mode, 1))
    summary = write_report(compared, tmp_path).read_text()
    assert "| grpc | 50% | 16 | 10.00 | 10.00 | 88.0 | 70.0 |" in summary
    assert "http-aiohttp against grpc: the add-item call x1.00 at p50" in summary
    write_report(load_comparison(tmp_path / "results.json"), tmp_path)
    assert (tmp_path / "summary.md").read_text() == summary


def test_master_data_calls_and_the_hit_ratio_per_mode(tmp_path: Path) -> None:
    runs = []
    for r, (hits, misses) in enumerate([(99.0, 1.0), (98.0, 2.0), (97.0, 3.0)], start=1):
        cached = run("grpc", r)
        cached.master_data_calls, cached.item_cache_hits, cached.item_cache_misses = (
            7.0,
            hits,
            misses,
        )
        uncached = run("grpc+nocache", r)
        uncached.master_data_calls = 420.0  # 700 requests: 0.6 per request
        runs += [cached, uncached]
    summary = write_report(comparison(["grpc", "grpc+nocache"], runs), tmp_path).read_text()
    assert (
        "| grpc | fed by the catalog feed | 0.010 (0.010 to 0.010) | 98.0% (97.0% to 99.0%) |"
        in (summary)
    )
    assert "| grpc+nocache | off (+nocache) | 0.600 (0.600 to 0.600) | n/a (no cache) |" in summary
    # A master-data call's latency is only a miss's with the cache: not compared across.
    assert "master-data call inside add-item" not in summary.split("## Modes")[0]
    assert "| master-data call during" not in summary.split("## Ratios")[1]
    assert "| master-data calls/request (at master-data) | grpc+nocache | 60.00 |" in summary


def test_results_without_the_new_figures_have_no_such_section(tmp_path: Path) -> None:
    runs = [run(mode, r) for r in (1, 2) for mode in ("http-aiohttp", "grpc")]
    summary = write_report(comparison(["http-aiohttp", "grpc"], runs), tmp_path).read_text()
    assert "master-data calls and the item cache" not in summary
    assert "## Propagation" not in summary
