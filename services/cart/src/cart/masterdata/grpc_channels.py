"""One grpc.aio channel per target per process, created once, closed once.

The channel multiplexes every concurrent call over HTTP/2; a channel per request (what the
system we rebuild did) pays a TCP and HTTP/2 handshake each time and leaks file descriptors.

It checks every backend's health, so a replica that drains before it stops gets no new calls
while another one is SERVING. When none is (a lone master-data draining, or every replica at
once), calls go over a second channel to the same target without the check (`SteeredChannel`):
a draining replica still serves, so refusing every call until it has gone would fail calls
that it would have answered. This is Envoy's "panic routing".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2

from pos_commons.request_context import REQUEST_ID_HEADER, request_id_var


@dataclass(frozen=True)
class ChannelSettings:
    keepalive_time_ms: int = 30_000
    keepalive_timeout_ms: int = 10_000
    # After master-data restarts, reconnect within a second or two, not gRPC's default 120 s.
    reconnect_backoff_initial_ms: int = 250
    reconnect_backoff_max_ms: int = 2_000
    load_balancing: str = "round_robin"
    health_check_service: str = ""
    """grpc.health.v1 service the channel watches on every backend: a backend that is not
    SERVING (master-data draining before it stops) gets no new calls while others do."""
    unchecked_idle_ms: int = 10_000
    """The channel without health checking closes its connections after this long without a
    call: it is used only while no backend is SERVING."""


def service_config(settings: ChannelSettings, health_checked: bool = True) -> dict[str, Any]:
    """Round-robin over every address of the target, skipping backends that are not SERVING
    (unless not `health_checked`).

    No retry policy here: the caller retries what may be retried (cart: one retry loop for
    both transports, docs/architecture.md). gRPC's transparent retries, of calls that never
    left the client, stay on (`grpc.enable_retries`).

    No "timeout" either: with grpcio 1.85, a service-config timeout below about two seconds
    failed every call at once with DEADLINE_EXCEEDED (seen while building this; the call
    reached no server). Every call passes its own deadline instead (cart: GRPC_TIMEOUT).
    """
    config: dict[str, Any] = {"loadBalancingConfig": [{settings.load_balancing: {}}]}
    if health_checked:
        config["healthCheckConfig"] = {"serviceName": settings.health_check_service}
    return config


def channel_options(
    settings: ChannelSettings, health_checked: bool = True
) -> list[tuple[str, Any]]:
    idle: list[tuple[str, Any]] = []
    if not health_checked:
        idle = [("grpc.client_idle_timeout_ms", settings.unchecked_idle_ms)]
    return [
        *idle,
        ("grpc.service_config", json.dumps(service_config(settings, health_checked))),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", settings.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", settings.reconnect_backoff_initial_ms),
        ("grpc.min_reconnect_backoff_ms", settings.reconnect_backoff_initial_ms),
        ("grpc.max_reconnect_backoff_ms", settings.reconnect_backoff_max_ms),
        ("grpc.dns_min_time_between_resolutions_ms", 5_000),
    ]


class GrpcChannelPool:
    """Channels by target (and whether they check health). `get` never dials twice for one;
    `close` closes each once."""

    def __init__(
        self,
        settings: ChannelSettings | None = None,
        interceptors: Sequence[aio.ClientInterceptor] = (),
    ) -> None:
        """`interceptors`: on every channel (pos_commons.instrumentation's, when tracing)."""
        self.settings = settings or ChannelSettings()
        self._interceptors = list(interceptors) or None
        self._channels: dict[
            tuple[str, bool], tuple[aio.Channel, grpc.ChannelCredentials | None]
        ] = {}
        self._closed = False

    def get(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        health_checked: bool = True,
    ) -> aio.Channel:
        """The channel of `target`: over TLS with `credentials` (pos_commons.tls), else
        plaintext; fixed when it is first dialled."""
        if self._closed:
            raise RuntimeError("the channel pool is closed")
        key = (target, health_checked)
        entry = self._channels.get(key)
        if entry is None:
            options = channel_options(self.settings, health_checked)
            if credentials is None:
                channel = aio.insecure_channel(
                    target, options=options, interceptors=self._interceptors
                )
            else:
                channel = aio.secure_channel(
                    target, credentials, options=options, interceptors=self._interceptors
                )
            entry = (channel, credentials)
            self._channels[key] = entry
        elif entry[1] is not credentials:
            raise ValueError(f"the channel of {target} was dialled with other credentials")
        return entry[0]

    def steered(
        self, target: str, credentials: grpc.ChannelCredentials | None = None
    ) -> SteeredChannel:
        """`target`'s health-checked channel, and its unchecked one when it is needed."""
        return SteeredChannel(
            self.get(target, credentials),
            lambda: self.get(target, credentials, health_checked=False),
        )

    @property
    def open_channels(self) -> int:
        return len(self._channels)

    async def close(self, grace_seconds: float | None = 1.0) -> None:
        if self._closed:
            return
        self._closed = True
        channels, self._channels = list(self._channels.values()), {}
        for channel, _ in channels:
            await channel.close(grace_seconds)


class SteeredChannel:
    """Where a call to one target goes: over the health-checked channel, unless none of its
    backends is SERVING (the channel is in TRANSIENT_FAILURE); then over the channel without
    the check, dialled on first need.

    A replica that drains is skipped as long as another one serves; when all are draining,
    they still serve, and a call that meets one that has stopped accepting fails as it would
    have anyway (UNAVAILABLE, retried). When master-data is down altogether both channels
    fail alike. The state is read on every call (0.15 us, measured), so the unchecked channel
    is left as soon as a backend is SERVING again, and idles out
    (`ChannelSettings.unchecked_idle_ms`).
    """

    def __init__(
        self, checked: aio.Channel, dial_unchecked: Callable[[], aio.Channel] | None = None
    ) -> None:
        """Without `dial_unchecked`, every call goes over `checked`."""
        self.checked = checked
        self._dial_unchecked = dial_unchecked
        self._unchecked: aio.Channel | None = None

    def pick(self) -> aio.Channel:
        if (
            self._dial_unchecked is None
            or self.checked.get_state() is not grpc.ChannelConnectivity.TRANSIENT_FAILURE
        ):
            return self.checked
        if self._unchecked is None:
            self._unchecked = self._dial_unchecked()
        return self._unchecked

    async def close(self, grace_seconds: float | None = 1.0) -> None:
        await self.checked.close(grace_seconds)
        if self._unchecked is not None:
            await self._unchecked.close(grace_seconds)


def call_metadata(token: str) -> Sequence[tuple[str, str]]:
    """The metadata of a call to another service: its bearer token and our request id."""
    return (("authorization", f"Bearer {token}"), (REQUEST_ID_HEADER, request_id_var.get()))


_HEALTH_CHECK = "/grpc.health.v1.Health/Check"


async def health_status(
    channel: aio.Channel, service: str = "", deadline_seconds: float = 1.0
) -> int:
    """The grpc.health.v1 status of `service` (HealthCheckResponse.ServingStatus)."""
    check = channel.unary_unary(
        _HEALTH_CHECK,
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    response = await check(health_pb2.HealthCheckRequest(service=service), timeout=deadline_seconds)
    return int(response.status)
