"""The cart configurations a comparison runs: the transport flag, whether cart keeps its item
cache, and whether the terminals send Idempotency-Key.

A mode is written ``<transport>[+nocache][+keys]``, the suffixes in that order, each at most
once:

- ``<transport>`` is ``grpc`` or ``http-aiohttp`` (cart's HTTP client library; the transport
  bench, benches/transport.py, compares it with httpx and httpx over aiohttp);
- without ``+nocache`` cart runs with its item cache fed by the catalog feed
  (``USE_ITEM_CACHE=true``, cart's default), so a warmed scan makes no master-data call; with
  it, ``USE_ITEM_CACHE=false``: every lookup goes to master-data, which measures the
  transports themselves;
- ``+keys`` has every terminal send a new Idempotency-Key with each change, so a comparison
  shows what they cost.

``<mode>@<ref>`` is the same configuration running cart's code as of a git ref
(``--baseline-ref``): its ratios are to ``<mode>``, the current code. It is given the same
settings; what that code does with USE_ITEM_CACHE is its own affair (before the catalog feed,
8da35fa, ``true`` was a 30 s TTL cache of items, off by default).
"""

from __future__ import annotations

from dataclasses import dataclass

from pos_commons.transport import Transport

HTTP_CLIENTS = ("aiohttp",)
"""The HTTP client libraries cart can run with."""

NOCACHE_OPTION = "nocache"
KEYS_OPTION = "keys"
OPTIONS = (NOCACHE_OPTION, KEYS_OPTION)
"""The suffixes a mode may carry after ``+``, in the order they must be written."""
OPTION_SEPARATOR = "+"
REF_SEPARATOR = "@"
GRAMMAR = "<transport>[+nocache][+keys]"


@dataclass(frozen=True)
class Mode:
    name: str
    transport: Transport
    http_client: str | None
    idempotency_keys: bool = False
    code_ref: str | None = None
    """The git ref whose cart code this mode runs; None: the current code."""
    item_cache: bool = True
    """USE_ITEM_CACHE: cart's item cache, fed by the catalog feed (in the current code)."""

    def at_ref(self, ref: str) -> Mode:
        """This configuration, running cart's code as of `ref`."""
        return Mode(
            f"{self.name}{REF_SEPARATOR}{ref}",
            self.transport,
            self.http_client,
            self.idempotency_keys,
            ref,
            self.item_cache,
        )

    def cart_env(self) -> dict[str, str]:
        return {
            **self.transport.cart_env(),
            # Set either way, so an older cart whose default differs runs the same setting.
            "USE_ITEM_CACHE": "true" if self.item_cache else "false",
        }

    @property
    def description(self) -> str:
        if self.transport is Transport.GRPC:
            parts = ["USE_GRPC=true (grpc.aio)"]
        else:
            assert self.http_client is not None
            parts = [f"USE_GRPC=false ({self.http_client})"]
        if self.code_ref:
            parts.append(
                f"USE_ITEM_CACHE={'true' if self.item_cache else 'false'} "
                f"(what cart's code as of {self.code_ref} does with it; before the catalog "
                "feed, 8da35fa, true was a 30 s TTL item cache)"
            )
        elif self.item_cache:
            parts.append("USE_ITEM_CACHE=true (item cache fed by the catalog feed)")
        else:
            parts.append("USE_ITEM_CACHE=false (every lookup goes to master-data)")
        keys = ", terminals send Idempotency-Key" if self.idempotency_keys else ""
        code = f"; cart's code as of {self.code_ref}" if self.code_ref else ""
        return ", ".join(parts) + keys + code


def current_mode_name(name: str) -> str:
    """The mode running the current code that `name` compares with (itself if current)."""
    return name.split(REF_SEPARATOR, 1)[0]


def setting_of(name: str) -> Mode | None:
    """The configuration a mode's name stands for (<mode>'s for <mode>@REF); None for a name
    this grammar does not read (an older results.json)."""
    try:
        return parse_mode(current_mode_name(name))
    except ValueError:
        return None


def _options_of(text: str, written: list[str]) -> tuple[bool, bool]:
    """(item cache, Idempotency-Key) from the suffixes, which must follow OPTIONS' order."""
    expected = [option for option in OPTIONS if option in written]
    if written != expected or len(set(written)) != len(written):
        raise ValueError(f"{text!r}: write a mode as {GRAMMAR}")
    return NOCACHE_OPTION not in written, KEYS_OPTION in written


def _unknown(text: str) -> ValueError:
    choices = ", ".join(["grpc", *(f"http-{client}" for client in HTTP_CLIENTS)])
    return ValueError(
        f"unknown mode {text!r}; write {GRAMMAR}, where <transport> is one of {choices}"
    )


def parse_mode(text: str) -> Mode:
    if REF_SEPARATOR in text:
        raise ValueError(f"{text!r}: modes of older code come from --baseline-ref")
    base, *written = text.split(OPTION_SEPARATOR)
    if any(option not in OPTIONS for option in written):
        raise _unknown(text)
    item_cache, keys = _options_of(text, written)
    if base == "grpc":
        return Mode(text, Transport.GRPC, None, keys, item_cache=item_cache)
    prefix = "http-"
    if base.startswith(prefix) and base[len(prefix) :] in HTTP_CLIENTS:
        return Mode(text, Transport.HTTP, base[len(prefix) :], keys, item_cache=item_cache)
    raise _unknown(text)


DEFAULT_MODES = [
    parse_mode(name) for name in ("http-aiohttp", "grpc", "http-aiohttp+nocache", "grpc+nocache")
]
"""What a comparison runs unless told otherwise: both transports with the fed item cache (what
a store runs), then without it (the transports themselves); the first is the baseline."""
