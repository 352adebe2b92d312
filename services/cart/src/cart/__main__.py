"""Runs cart: ``python -m cart`` (settings from the environment)."""

from __future__ import annotations

from cart.app import create_app
from cart.settings import CartSettings
from pos_commons.lifecycle import serve
from pos_commons.logging import configure_logging
from pos_commons.tracing import current_trace_ids, start_tracing


def main() -> None:
    settings = CartSettings()
    tracing = start_tracing("cart")
    configure_logging(
        "cart", settings.log_level, settings.log_format, current_trace_ids if tracing else None
    )
    app = create_app(settings, tracing)
    serve(
        app,
        host=settings.bind_host,
        port=settings.cart_http_port,
        lifecycle=app.lifecycle,
        drain_seconds=settings.shutdown_drain_seconds,
        graceful_seconds=10,
    )


if __name__ == "__main__":
    main()
