"""The containers' health check: ``python -m pos_commons.healthcheck PATH PORT_VARIABLE PORT``.

Exits 0 when GET PATH on the service's own port, over loopback, answers 200 within 2 s, and 1
otherwise. The port is the service's setting (PORT_VARIABLE in the environment, else PORT).
The slim images have no curl; this is the Dockerfiles' HEALTHCHECK and compose's healthcheck.

It follows the service's TLS settings (master-data's TLS_*): with TLS_CERT_FILE the port
speaks HTTPS only, so the check does too, without verifying the certificate (it asks its own
process over loopback, by address, not by a name the certificate carries); with
TLS_CLIENT_CA_FILE (mutual TLS) it presents the service's own certificate, which that CA must
then have issued for client use too (docs/deploy.md). Standard library only: it runs in a
fresh interpreter every few seconds.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request


def _tls_context() -> ssl.SSLContext | None:
    cert, key = os.environ.get("TLS_CERT_FILE"), os.environ.get("TLS_KEY_FILE")
    if not cert or not key:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if os.environ.get("TLS_CLIENT_CA_FILE"):
        context.load_cert_chain(cert, key)
    return context


def check(path: str, port_variable: str, default_port: str) -> bool:
    port = os.environ.get(port_variable) or default_port
    context = _tls_context()
    scheme = "http" if context is None else "https"
    url = f"{scheme}://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m pos_commons.healthcheck PATH PORT_VARIABLE PORT", file=sys.stderr)  # noqa: T201
        return 2
    return 0 if check(*argv) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
