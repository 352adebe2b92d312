"""The cart configurations a comparison runs: the transport flag and the HTTP client library.

A mode is written as ``grpc`` or ``http-<client>``, where <client> is one of the libraries the
web repository offers (MASTER_DATA_HTTP_CLIENT): aiohttp, httpx, httpx-aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass

from pos_commons.http_clients import HttpClientKind


@dataclass(frozen=True)
class Mode:
    name: str
    use_grpc: bool
    http_client: HttpClientKind | None

    @property
    def transport(self) -> str:
        return "grpc" if self.use_grpc else "http"

    def cart_env(self) -> dict[str, str]:
        env = {"USE_GRPC": "true" if self.use_grpc else "false", "USE_ITEM_CACHE": "false"}
        if self.http_client is not None:
            env["MASTER_DATA_HTTP_CLIENT"] = self.http_client.value
        return env

    @property
    def description(self) -> str:
        if self.use_grpc:
            return "USE_GRPC=true (grpc.aio)"
        assert self.http_client is not None
        return f"USE_GRPC=false, MASTER_DATA_HTTP_CLIENT={self.http_client.value}"


def parse_mode(text: str) -> Mode:
    if text == "grpc":
        return Mode("grpc", True, None)
    prefix = "http-"
    if text.startswith(prefix):
        try:
            kind = HttpClientKind(text[len(prefix) :])
        except ValueError:
            pass
        else:
            return Mode(text, False, kind)
    choices = ", ".join(["grpc", *(f"http-{kind.value}" for kind in HttpClientKind)])
    raise ValueError(f"unknown mode {text!r}; choose from {choices}")


ALL_MODES = [parse_mode(f"http-{kind.value}") for kind in HttpClientKind] + [parse_mode("grpc")]
