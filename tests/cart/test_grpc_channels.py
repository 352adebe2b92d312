"""cart's gRPC channel to master-data: dialled once, closed once, the service config, and
where a call goes while no backend is SERVING."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cart.masterdata.grpc_adapter import (
    ChannelSettings,
    MasterDataChannel,
    channel_options,
    health_status,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_the_channel_is_dialled_once_and_closed_once() -> None:
    channel = MasterDataChannel("127.0.0.1:1")
    first = channel.pick()
    assert channel.pick() is first is channel.checked
    assert channel.unchecked is None, "the channel without checks is dialled when needed"
    await channel.close()
    await channel.close()
    with pytest.raises(RuntimeError):
        channel.pick()


def test_service_config_balances_over_healthy_backends_and_sets_no_retry_or_timeout() -> None:
    options = dict(channel_options(ChannelSettings()))
    config = json.loads(options["grpc.service_config"])
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": ""}
    # Retries are cart's one loop for both transports; deadlines are per call.
    assert "methodConfig" not in config
    assert options["grpc.enable_retries"] == 1


def test_the_channel_without_health_checks_balances_alike_and_idles_out() -> None:
    settings = ChannelSettings()
    options = dict(channel_options(settings, health_checked=False))
    config = json.loads(options["grpc.service_config"])
    assert config == {"loadBalancingConfig": [{"round_robin": {}}]}
    assert options["grpc.client_idle_timeout_ms"] == settings.unchecked_idle_ms
    assert "grpc.client_idle_timeout_ms" not in dict(channel_options(settings))


async def _until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "not within 5 s"
        await asyncio.sleep(0.01)


def _unchecked(channel: MasterDataChannel) -> aio.Channel | None:
    return channel.unchecked


async def test_calls_skip_health_checks_only_while_no_backend_is_serving() -> None:
    """A lone backend that says NOT_SERVING (master-data draining) still gets the calls, over
    the channel without health checks; as soon as one is SERVING again, the health-checked
    channel has them back."""
    server = aio.server()
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    steered = MasterDataChannel(f"127.0.0.1:{port}")
    try:
        await health_servicer.set("", SERVING)
        assert await health_status(steered.pick(), deadline_seconds=5) == SERVING
        assert steered.pick() is steered.checked
        assert _unchecked(steered) is None, "the channel without checks is dialled when needed"

        await health_servicer.set("", NOT_SERVING)
        await _until(lambda: steered.pick() is not steered.checked)
        unchecked = steered.pick()
        assert steered.pick() is unchecked
        assert _unchecked(steered) is unchecked
        # Served, although it says it would rather not be.
        assert await health_status(unchecked, deadline_seconds=5) == NOT_SERVING

        await health_servicer.set("", SERVING)
        await _until(lambda: steered.pick() is steered.checked)
    finally:
        await steered.close()
        await server.stop(None)
