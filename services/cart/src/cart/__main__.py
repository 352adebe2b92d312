"""Runs cart: ``python -m cart`` (settings from the environment)."""

from __future__ import annotations

import uvicorn

from cart.app import create_app
from cart.settings import CartSettings
from pos_commons.logging import configure_logging


def main() -> None:
    settings = CartSettings()
    configure_logging("cart", settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.cart_http_port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        # Longer than any client's idle keep-alive (cart's pool: 30 s), so a client never
        # reuses a connection the server is closing at that moment.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
