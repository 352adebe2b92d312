"""master-data's settings (environment variables; see docs/configuration.md)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, FilePath, model_validator

from pos_commons.settings import ServiceSettings
from pos_commons.tls import ServerTls


class MasterDataSettings(ServiceSettings):
    master_data_http_port: int = Field(default=8002, ge=1, le=65535, description="HTTP port.")
    grpc_port: int = Field(
        default=50051, ge=1, le=65535, description="gRPC port (served when USE_GRPC is true)."
    )
    grpc_shutdown_grace_seconds: float = Field(
        default=5.0, ge=0, le=60, description="How long in-flight gRPC calls may finish on stop."
    )
    grpc_max_concurrent_rpcs: int = Field(
        default=100,
        ge=0,
        le=100_000,
        description="Lookups the gRPC server serves at once; more are refused at once with "
        "UNAVAILABLE and x-error-code OVERLOADED (0: no bound). Streams are not counted.",
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
    catalog_feed_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How often the catalog feed tells a subscriber it is up to date while "
        "nothing changes (its token advances; a subscriber that hears nothing reconnects).",
    )
    catalog_feed_subscriber_buffer: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Changes a feed subscriber may fall behind before it is cut off (it "
        "reconnects and resumes from its token).",
    )
    tls_cert_file: FilePath | None = Field(
        default=None,
        description=(
            "Certificate chain (PEM) of HTTPS and gRPC over TLS; with TLS_KEY_FILE, both "
            "ports speak TLS only."
        ),
    )
    tls_key_file: FilePath | None = Field(
        default=None, description="Private key (PEM) of TLS_CERT_FILE."
    )
    tls_client_ca_file: FilePath | None = Field(
        default=None,
        description=(
            "CA certificates (PEM): every client, on both ports, must present a certificate "
            "one of them issued (mutual TLS)."
        ),
    )

    @model_validator(mode="after")
    def _tls_is_complete(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("TLS_CERT_FILE and TLS_KEY_FILE go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE")
        return self

    @property
    def server_tls(self) -> ServerTls | None:
        if self.tls_cert_file is None or self.tls_key_file is None:
            return None
        return ServerTls(self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file)
