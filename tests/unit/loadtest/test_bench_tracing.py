"""bench_tracing's settings and report, on figures made up for the purpose (the runner itself
starts four stacks: run scripts/bench_tracing.sh to measure)."""

from __future__ import annotations

import argparse

import pytest

from pos_commons.tracing import tracing_requested
from pos_loadtest.benches.otlp_sink import OtlpSink
from pos_loadtest.benches.tracing import report, settings
from pos_loadtest.stacks.durable import Window


def test_settings_compare_off_with_one_and_all_calls_sampled() -> None:
    measured = settings("http://127.0.0.1:4318")
    assert list(measured) == ["baseline", "off", "on-1%", "on-100%"]
    assert not tracing_requested(measured["baseline"])
    assert not tracing_requested(measured["off"])
    for name, share in (("on-1%", "0.01"), ("on-100%", "1.0")):
        assert tracing_requested(measured[name]), name
        assert measured[name]["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert measured[name]["OTEL_TRACES_SAMPLER_ARG"] == share
        assert measured[name]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"


def _window(cart: float, master_data: float) -> Window:
    return Window(1000, 0, 10.0, {"cart": cart, "master-data": master_data, "database": 3.0})


def test_the_report_pairs_each_setting_with_off_by_round() -> None:
    options = argparse.Namespace(
        terminals=8, transport="http", item_cache=True, rounds=2, seconds=8.0,
        baseline_ref="6d1bd80",
    )  # fmt: skip
    windows = {
        "baseline": [_window(2.0, 0.5), _window(2.2, 0.5)],
        "off": [_window(2.0, 0.5), _window(2.0, 0.5)],
        "on-1%": [_window(2.2, 0.5), _window(2.2, 0.5)],
        "on-100%": [_window(3.0, 1.0), _window(3.0, 1.0)],
    }
    figures = report(options, windows, OtlpSink())
    ratios = figures["ratiosToOff"]
    assert isinstance(ratios, dict)
    assert ratios["on-100%"]["services"]["median"] == pytest.approx(4.0 / 2.5)
    assert ratios["on-100%"]["cart"]["median"] == pytest.approx(1.5)
    assert ratios["on-1%"]["master-data"]["median"] == pytest.approx(1.0)
    assert ratios["baseline"]["cart"]["median"] == pytest.approx(1.05)
    assert "off" not in ratios
