"""TLS between the services, from PEM files: one description per side, turned into what each
library wants (uvicorn's options, grpc credentials, an ssl.SSLContext for aiohttp and httpx).

The server side (master-data) serves TLS on HTTP and gRPC alike with one certificate; given a
client CA it also asks every client for a certificate issued by that CA (mutual TLS) and
refuses the handshake without one. The client side (cart) trusts one CA for master-data and
may present its own certificate. Files are read once, at start-up: a renewed certificate takes
a restart (a rolling one costs no call, docs/architecture.md).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc


@dataclass(frozen=True)
class ServerTls:
    cert_file: Path
    """The certificate chain, leaf first (PEM)."""
    key_file: Path
    client_ca_file: Path | None = None
    """With it, clients must present a certificate this CA issued (mutual TLS)."""

    @property
    def mutual(self) -> bool:
        return self.client_ca_file is not None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key_file.read_bytes(), self.cert_file.read_bytes())],
            root_certificates=self.client_ca_file.read_bytes() if self.client_ca_file else None,
            require_client_auth=self.mutual,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn.Config's TLS arguments."""
        return {
            "ssl_certfile": str(self.cert_file),
            "ssl_keyfile": str(self.key_file),
            "ssl_ca_certs": str(self.client_ca_file) if self.client_ca_file else None,
            "ssl_cert_reqs": ssl.CERT_REQUIRED if self.mutual else ssl.CERT_NONE,
        }


@dataclass(frozen=True)
class ClientTls:
    ca_file: Path
    """The CA the server's certificate must chain to (instead of the system's CAs)."""
    cert_file: Path | None = None
    """Our certificate, presented when the server asks (mutual TLS)."""
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_file.read_bytes(),
            private_key=self.key_file.read_bytes() if self.key_file else None,
            certificate_chain=self.cert_file.read_bytes() if self.cert_file else None,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """For aiohttp and httpx: verifies the server's certificate and host name."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if self.cert_file is not None and self.key_file is not None:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context
