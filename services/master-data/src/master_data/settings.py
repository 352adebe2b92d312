"""master-data's settings (environment variables; see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field

from pos_commons.settings import ServiceSettings


class MasterDataSettings(ServiceSettings):
    master_data_http_port: int = Field(default=8002, ge=1, le=65535, description="HTTP port.")
    grpc_port: int = Field(
        default=50051, ge=1, le=65535, description="gRPC port (served when USE_GRPC is true)."
    )
    grpc_shutdown_grace_seconds: float = Field(
        default=5.0, ge=0, le=60, description="How long in-flight gRPC calls may finish on stop."
    )
    item_cache_ttl_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="TTL of the in-process item-detail cache; 0 turns it off.",
    )
    item_cache_max_entries: int = Field(
        default=100_000, ge=1, description="Bound of the item-detail cache (oldest go first)."
    )
