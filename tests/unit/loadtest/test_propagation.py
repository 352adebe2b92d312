"""The propagation phase's pure parts: which item it probes, and what its figures say."""

from __future__ import annotations

import math
from pathlib import Path

from pos_devstack.seed import demo_catalog
from pos_loadtest.comparison.propagation import probe_item
from pos_loadtest.comparison.results import FeedLag, PriceChange, PropagationRun
from pos_loadtest.probes.prometheus import Histogram
from pos_loadtest.report.propagation_sections import everywhere, failures, goal_met, spread
from pos_loadtest.report.write import load_comparison, write_report
from tests.unit.loadtest.fabricated import comparison, run


def test_the_probe_item_is_beyond_the_load_and_sells_at_its_unit_price() -> None:
    catalog = demo_catalog()
    item = probe_item(catalog, 100, "S001")
    assert item is not None
    assert item not in catalog.sellable_codes[:100]
    assert catalog.store_price("S001", item) is None
    # ITEM0105 is the 101st sellable item (4 of the first 100 are soft-deleted), but S001 has
    # its own price for it (every 7th item): the next one is taken.
    assert catalog.sellable_codes[100] == "ITEM0105"
    assert item == "ITEM0106"
    assert probe_item(catalog, len(catalog.sellable_codes), "S001") is None


def _change(*seconds: float | None) -> PriceChange:
    shown = [s is not None for s in seconds]
    return PriceChange("1.01", list(seconds), [1] * len(seconds), [s or None for s in shown])


def _propagation(changes: list[PriceChange], error: str | None = None) -> PropagationRun:
    lag = Histogram(((0.005, 0.0), (0.01, 3.0), (math.inf, 3.0)), 3, 0.024)
    return PropagationRun(
        "grpc", "ITEM0106", 2, 16, 5.0, len(changes), changes, [True, False],
        [FeedLag.of(lag), None], 1.5, 300.0, error,
    )  # fmt: skip


def test_every_process_is_the_slower_one_and_a_miss_is_a_failure() -> None:
    good = _propagation([_change(0.02, 0.03), _change(0.05, 0.01), _change(0.04, 0.04)])
    assert everywhere(good) == [0.03, 0.05, 0.04]
    found = spread(everywhere(good))
    assert (found.shown, found.p50, found.max) == (3, 0.04, 0.05)
    assert goal_met(good)
    assert failures(comparison(["grpc"], [run("grpc", 1)])) == []

    missed = _propagation([_change(0.02, None), _change(0.05, 0.01)])
    assert everywhere(missed) == [None, 0.05]
    assert not goal_met(missed)
    slow = _propagation([_change(0.02, 1.5)])
    assert not goal_met(slow)
    cut_short = _propagation([_change(0.02, 0.02)], error="RuntimeError: locust stopped")
    assert not goal_met(cut_short)


def test_the_report_says_which_changes_failed_and_renders_again(tmp_path: Path) -> None:
    compared = comparison(["grpc"], [run("grpc", 1)])
    compared.propagation = [
        _propagation([_change(0.02, 0.03), _change(0.02, None)]),
        PropagationRun("http-aiohttp", "", 2, 16, 5.0, 20, error="PropagationError: no item"),
    ]
    summary = write_report(compared, tmp_path).read_text()
    assert "| grpc | every process | 2 | 1 | 1 | 30.0 | 30.0 | 30.0 | 1 of 1 |" in summary
    assert "| grpc | process 2 | 2 | 1 | 1 |" in summary
    assert (
        "**FAILED (grpc)**: 1 of 2 changes were not shown by every cart process within 5 s: "
        "change 2 (to 1.01) on process 2." in summary
    )
    assert "the goal (p99 at most 1 s, every change shown) is **NOT met**" in summary
    assert "process 2 did not serve the probe item from its cache" in summary
    assert "**FAILED (http-aiohttp)**: the phase did not run to its end" in summary
    assert "| http-aiohttp | did not run to its end |" in summary
    # The feed's lag: process 1's histogram (3 changes, 8 ms mean); process 2 exposed none.
    assert "| grpc | process 1 | 3 | 8.0 |" in summary
    assert "| grpc | both | 3 | 8.0 |" in summary
    assert failures(compared) == [
        "propagation grpc: 1 changes not shown within 5 s",
        "propagation http-aiohttp: PropagationError: no item",
    ]
    again = load_comparison(tmp_path / "results.json")
    assert again.propagation == compared.propagation
    write_report(again, tmp_path)
    assert (tmp_path / "summary.md").read_text() == summary


def test_nothing_shown_has_no_percentile() -> None:
    nothing = spread([None, None])
    assert nothing.shown == 0
    assert math.isnan(nothing.p50)
    assert math.isnan(nothing.p99)
    assert math.isnan(nothing.max)
