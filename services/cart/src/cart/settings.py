"""cart's settings (environment variables; see docs/configuration.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, FilePath, field_validator, model_validator

from pos_commons.settings import ServiceSettings
from pos_commons.tls import ClientTls
from pos_commons.transport import Transport


class CartSettings(ServiceSettings):
    cart_http_port: int = Field(default=8003, ge=1, le=65535, description="HTTP port.")
    master_data_url: str = Field(
        default="http://127.0.0.1:8002",
        description=(
            "master-data's HTTP base URL; several, comma-separated, are replicas that calls "
            "go round-robin over (a retry goes to the next)."
        ),
    )
    master_data_grpc_target: str = Field(
        default="127.0.0.1:50051",
        description="master-data's gRPC target; dns:///host:port spreads calls over replicas.",
    )
    grpc_timeout: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Budget of one lookup over gRPC, retries included, seconds (less when less "
        "is left of the request's REQUEST_TIMEOUT_SECONDS).",
    )
    http_timeout: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description=(
            "Budget of one lookup over HTTP, seconds: every attempt, connecting and waiting "
            "for a pooled connection included, and the retries (less when less is left of the "
            "request's REQUEST_TIMEOUT_SECONDS)."
        ),
    )
    http_connect_timeout: float = Field(
        default=0.5,
        gt=0,
        le=30,
        description="TCP connect timeout to master-data, seconds; less than HTTP_TIMEOUT.",
    )
    use_item_cache: bool = Field(
        default=True,
        description="Keep the items and payment methods master-data sent in cart's process, "
        "current through master-data's catalog feed (false: every lookup asks master-data).",
    )
    item_cache_max_entries: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="Items (per store) the cache keeps at most, and as many payment methods; "
        "the least recently used go first.",
    )
    item_cache_offline_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="While the catalog feed is down, how long cached items and payment methods "
        "keep selling after it was last live; then lookups go to master-data.",
    )
    catalog_feed_idle_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Nothing heard from the catalog feed for this long (master-data heartbeats "
        "every 5 s): the feed is broken, and cart reconnects.",
    )
    cart_ttl_seconds: int = Field(
        default=86_400, ge=1, description="An untouched cart expires after this many seconds."
    )
    money_decimals: int = Field(
        default=2, ge=0, le=4, description="Decimal places of amounts (line amounts, discounts)."
    )
    max_money_amount: Decimal = Field(
        default=Decimal(1_000_000),
        gt=0,
        le=Decimal(10) ** 12,
        description=(
            "The largest amount a terminal may enter (unit price, amount discount, payment: "
            "cash tendered too); more is refused with 422 AMOUNT_TOO_LARGE."
        ),
    )
    transaction_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long a bill or cancel may retry its transaction (transient errors, "
        "a commit whose outcome is unknown) before it answers 503/504; never longer than what "
        "is left of the request's budget.",
    )
    cart_cache_size: int = Field(
        default=2_000,
        ge=0,
        le=100_000,
        description="Open carts a process keeps in its cart cache, to change them without "
        "reading them first (0: none).",
    )
    cart_cache_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        le=1024 * 1024 * 1024,
        description="Memory the cart cache may take in a process, by the estimated footprint "
        "of its carts (a 500-line cart about 1.5 MiB); the least recently written go first.",
    )
    max_lines_per_cart: int = Field(
        default=500, ge=1, le=5000, description="Lines a cart may hold, cancelled ones included."
    )
    cart_lock_max_waiters: int = Field(
        default=64,
        ge=0,
        le=10_000,
        description="Changes of one cart that may wait, in one process, for the change in "
        "progress; more answer 503 CART_BUSY at once (a waiter gives up the same way when its "
        "request's budget ends).",
    )

    @property
    def transport(self) -> Transport:
        """How master data is fetched (USE_GRPC)."""
        return Transport.from_flag(self.use_grpc)

    @field_validator("master_data_url")
    @classmethod
    def _urls_are_http(cls, value: str) -> str:
        urls = [url.strip() for url in value.split(",")]
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                # The value itself stays out of the message: a URL may carry credentials.
                raise ValueError("MASTER_DATA_URL: each entry is an http(s) URL with a host")
            if parts.query or parts.fragment:
                raise ValueError("MASTER_DATA_URL: an entry may not have a query or fragment")
        return ",".join(url.rstrip("/") for url in urls)

    @property
    def master_data_urls(self) -> list[str]:
        return self.master_data_url.split(",")

    @model_validator(mode="after")
    def _connect_fits_in_the_budget(self) -> Self:
        if self.http_connect_timeout >= self.http_timeout:
            raise ValueError("HTTP_CONNECT_TIMEOUT must be less than HTTP_TIMEOUT")
        return self

    master_data_tls_ca_file: FilePath | None = Field(
        default=None,
        description=(
            "CA certificates (PEM) master-data's certificate must chain to. Set: gRPC goes "
            "over TLS and MASTER_DATA_URL must be https://, verified against this CA."
        ),
    )
    master_data_tls_cert_file: FilePath | None = Field(
        default=None,
        description="Client certificate (PEM) cart presents to master-data (mutual TLS).",
    )
    master_data_tls_key_file: FilePath | None = Field(
        default=None, description="Private key (PEM) of MASTER_DATA_TLS_CERT_FILE."
    )

    @model_validator(mode="after")
    def _tls_is_complete(self) -> Self:
        if (self.master_data_tls_cert_file is None) != (self.master_data_tls_key_file is None):
            raise ValueError("MASTER_DATA_TLS_CERT_FILE and MASTER_DATA_TLS_KEY_FILE go together")
        if self.master_data_tls_ca_file is None:
            if self.master_data_tls_cert_file is not None:
                raise ValueError("MASTER_DATA_TLS_CERT_FILE needs MASTER_DATA_TLS_CA_FILE")
        else:
            plain = [url for url in self.master_data_urls if not url.startswith("https://")]
            if plain:
                # Not the URLs themselves: a setting's value stays out of messages.
                raise ValueError(
                    "MASTER_DATA_TLS_CA_FILE is set (master-data speaks TLS) but "
                    f"{len(plain)} MASTER_DATA_URL entries are plain http:// URLs"
                )
        return self

    @property
    def master_data_tls(self) -> ClientTls | None:
        if self.master_data_tls_ca_file is None:
            return None
        return ClientTls(
            self.master_data_tls_ca_file,
            self.master_data_tls_cert_file,
            self.master_data_tls_key_file,
        )

    terminal_cache_ttl_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long a verified terminal key is trusted, and a refused one refused, "
        "without a database read.",
    )
