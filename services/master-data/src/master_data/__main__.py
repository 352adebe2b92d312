"""Runs master-data: ``python -m master_data`` (settings from the environment)."""

from __future__ import annotations

import uvicorn

from master_data.app import create_app
from master_data.settings import MasterDataSettings
from pos_commons.logging import configure_logging


def main() -> None:
    settings = MasterDataSettings()
    configure_logging("master-data", settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.master_data_http_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        # Longer than any client's idle keep-alive (cart's pool: 30 s), so a client never
        # reuses a connection the server is closing at that moment.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=int(settings.grpc_shutdown_grace_seconds) + 5,
    )


if __name__ == "__main__":
    main()
