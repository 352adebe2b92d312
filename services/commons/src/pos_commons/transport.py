"""The transports cart can reach master-data over. `USE_GRPC` is the user's switch; inside the
code, tooling and tests a transport is this enum, named once."""

from __future__ import annotations

from enum import StrEnum


class Transport(StrEnum):
    HTTP = "http"
    GRPC = "grpc"

    @classmethod
    def from_flag(cls, use_grpc: bool) -> Transport:
        return cls.GRPC if use_grpc else cls.HTTP

    def cart_env(self) -> dict[str, str]:
        """The cart settings that select this transport."""
        return {"USE_GRPC": "true" if self is Transport.GRPC else "false"}
