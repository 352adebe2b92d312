"""cart's pool of gRPC channels to master-data: one per target, and the service config."""

from __future__ import annotations

import json

import pytest

from cart.masterdata.grpc_channels import ChannelSettings, GrpcChannelPool, channel_options


async def test_grpc_channel_pool_dials_once_per_target_and_closes_once() -> None:
    pool = GrpcChannelPool()
    first = pool.get("127.0.0.1:1")
    assert pool.get("127.0.0.1:1") is first
    assert pool.get("127.0.0.1:2") is not first
    assert pool.open_channels == 2
    await pool.close()
    await pool.close()
    with pytest.raises(RuntimeError):
        pool.get("127.0.0.1:1")


def test_service_config_balances_over_healthy_backends_and_sets_no_retry_or_timeout() -> None:
    options = dict(channel_options(ChannelSettings()))
    config = json.loads(options["grpc.service_config"])
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": ""}
    # Retries are cart's one loop for both transports; deadlines are per call.
    assert "methodConfig" not in config
    assert options["grpc.enable_retries"] == 1
