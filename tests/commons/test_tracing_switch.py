"""When tracing is on (pos_commons.tracing): only when an exporter is named and the SDK is
not disabled; off, not a module of the SDK or of an instrumentation is even loaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pos_commons.tracing import tracing_requested


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": " None "}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_tracing_is_on_only_with_an_exporter_and_the_sdk_enabled(
    environ: dict[str, str], on: bool
) -> None:
    assert tracing_requested(environ) is on


OFF_PROCESS = """
import sys
from cart.app import create_app as cart_app
from master_data.app import create_app as master_data_app
from pos_commons.tracing import start_tracing

assert start_tracing("cart") is None
cart_app(), master_data_app()
unwanted = ("opentelemetry.sdk", "opentelemetry.instrumentation")
loaded = [m for m in sys.modules if m.startswith(unwanted)]
assert not loaded, loaded
"""


def test_off_loads_neither_the_sdk_nor_an_instrumentation() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", OFF_PROCESS],
        env={**environment, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
