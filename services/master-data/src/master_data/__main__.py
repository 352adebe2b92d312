"""Runs master-data: ``python -m master_data`` (settings from the environment)."""

from __future__ import annotations

from master_data.app import create_app
from master_data.settings import MasterDataSettings
from pos_commons.lifecycle import serve
from pos_commons.logging import configure_logging
from pos_commons.tracing import current_trace_ids, start_tracing


def main() -> None:
    settings = MasterDataSettings()
    tracing = start_tracing("master-data")
    configure_logging(
        "master-data",
        settings.log_level,
        settings.log_format,
        current_trace_ids if tracing else None,
    )
    app = create_app(settings, tracing)
    serve(
        app,
        host=settings.bind_host,
        port=settings.master_data_http_port,
        lifecycle=app.lifecycle,
        drain_seconds=settings.shutdown_drain_seconds,
        # HTTP requests in flight finish first, then the gRPC server's own grace period runs.
        graceful_seconds=settings.grpc_shutdown_grace_seconds + 5,
        tls=settings.server_tls,
    )


if __name__ == "__main__":
    main()
