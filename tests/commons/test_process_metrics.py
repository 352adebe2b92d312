"""Both services' /metrics (each its own Prometheus registry) show the process, the platform
and the garbage collector, as the process-global default registry would: CPU, memory, open
files, Python's version, collections per generation."""

from __future__ import annotations

import pytest

from pos_devstack.stack import CartProcess, MasterDataProcess
from tests.support import metric_value

PROCESS_AND_GC = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "python_info",
    "python_gc_collections_total",
    "python_gc_objects_collected_total",
)


@pytest.mark.parametrize("service", ["master-data", "cart"])
async def test_metrics_show_the_process_and_its_garbage_collector(
    service: str, master_data: MasterDataProcess, cart_http: CartProcess
) -> None:
    url = master_data.url if service == "master-data" else cart_http.url
    for sample in PROCESS_AND_GC:
        assert await metric_value(url, sample) > 0, sample
    # One series per generation, read from the running interpreter.
    assert await metric_value(url, "python_gc_collections_total", {"generation": "0"}) > 0
