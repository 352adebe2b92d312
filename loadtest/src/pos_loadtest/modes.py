"""The cart configurations a comparison runs: the transport flag and the HTTP client library,
and whether the terminals send Idempotency-Key.

A mode is written as ``grpc`` or ``http-<client>``, where <client> is one of the libraries the
web repository offers (MASTER_DATA_HTTP_CLIENT): aiohttp, httpx, httpx-aiohttp; a ``+keys``
suffix (``http-aiohttp+keys``) has every terminal send a new Idempotency-Key with each change,
so a comparison shows what they cost.

``<mode>@<ref>`` is the same configuration running cart's code as of a git ref
(``--baseline-ref``): its ratios are to ``<mode>``, the current code.
"""

from __future__ import annotations

from dataclasses import dataclass

from cart.masterdata.http_clients import HttpClientKind
from pos_commons.transport import Transport

KEYS_SUFFIX = "+keys"
REF_SEPARATOR = "@"


@dataclass(frozen=True)
class Mode:
    name: str
    transport: Transport
    http_client: HttpClientKind | None
    idempotency_keys: bool = False
    code_ref: str | None = None
    """The git ref whose cart code this mode runs; None: the current code."""

    def at_ref(self, ref: str) -> Mode:
        """This configuration, running cart's code as of `ref`."""
        return Mode(
            f"{self.name}{REF_SEPARATOR}{ref}",
            self.transport,
            self.http_client,
            self.idempotency_keys,
            ref,
        )

    def cart_env(self) -> dict[str, str]:
        env = {**self.transport.cart_env(), "USE_ITEM_CACHE": "false"}
        if self.http_client is not None:
            env["MASTER_DATA_HTTP_CLIENT"] = self.http_client.value
        return env

    @property
    def description(self) -> str:
        keys = ", terminals send Idempotency-Key" if self.idempotency_keys else ""
        code = f"; cart's code as of {self.code_ref}" if self.code_ref else ""
        if self.transport is Transport.GRPC:
            return f"USE_GRPC=true (grpc.aio){keys}{code}"
        assert self.http_client is not None
        return f"USE_GRPC=false, MASTER_DATA_HTTP_CLIENT={self.http_client.value}{keys}{code}"


def current_mode_name(name: str) -> str:
    """The mode running the current code that `name` compares with (itself if current)."""
    return name.split(REF_SEPARATOR, 1)[0]


def parse_mode(text: str) -> Mode:
    if REF_SEPARATOR in text:
        raise ValueError(f"{text!r}: modes of older code come from --baseline-ref")
    base = text.removesuffix(KEYS_SUFFIX)
    keys = base != text
    if base == "grpc":
        return Mode(text, Transport.GRPC, None, keys)
    prefix = "http-"
    if base.startswith(prefix):
        try:
            kind = HttpClientKind(base[len(prefix) :])
        except ValueError:
            pass
        else:
            return Mode(text, Transport.HTTP, kind, keys)
    choices = ", ".join(["grpc", *(f"http-{kind.value}" for kind in HttpClientKind)])
    raise ValueError(f"unknown mode {text!r}; choose from {choices} (each may end in +keys)")


ALL_MODES = [parse_mode(f"http-{kind.value}") for kind in HttpClientKind] + [parse_mode("grpc")]
