"""The grammar of the comparison's modes and the settings each gives cart."""

from __future__ import annotations

import pytest

from pos_commons.transport import Transport
from pos_loadtest.comparison.modes import DEFAULT_MODES, parse_mode, setting_of
from pos_loadtest.comparison.propagation import pick_modes


def test_a_mode_runs_the_fed_cache_unless_nocache() -> None:
    cached = parse_mode("grpc")
    assert cached.item_cache
    assert not cached.idempotency_keys
    assert cached.cart_env()["USE_ITEM_CACHE"] == "true"
    uncached = parse_mode("http-aiohttp+nocache+keys")
    assert uncached.transport is Transport.HTTP
    assert not uncached.item_cache
    assert uncached.idempotency_keys
    assert uncached.cart_env() == {
        "USE_GRPC": "false", "USE_ITEM_CACHE": "false",
    }  # fmt: skip
    assert "USE_ITEM_CACHE=false" in uncached.description
    assert parse_mode("grpc+keys").idempotency_keys


@pytest.mark.parametrize(
    "text",
    [
        "grpc+keys+nocache",
        "grpc+nocache+nocache",
        "grpc+cache",
        "grpc+",
        "http-curl",
        "http-httpx",
        "grpc@x",
    ],
)
def test_other_spellings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=text.replace("+", r"\+")):
        parse_mode(text)


def test_older_code_gets_the_same_settings_and_says_what_they_mean_there() -> None:
    older = parse_mode("grpc+nocache").at_ref("3df714a")
    assert older.name == "grpc+nocache@3df714a"
    assert older.cart_env()["USE_ITEM_CACHE"] == "false"
    assert "what cart's code as of 3df714a does with it" in older.description
    assert older.description.endswith("cart's code as of 3df714a")
    setting = setting_of(older.name)
    assert setting is not None
    assert not setting.item_cache
    assert setting_of("http-something-else") is None


def test_the_default_modes_and_which_of_them_propagation_takes() -> None:
    names = [mode.name for mode in DEFAULT_MODES]
    assert names == ["http-aiohttp", "grpc", "http-aiohttp+nocache", "grpc+nocache"]
    modes = [
        parse_mode("grpc+nocache"),
        parse_mode("http-aiohttp+nocache").at_ref("HEAD"),
        parse_mode("http-aiohttp+keys"),
        parse_mode("http-aiohttp"),
        parse_mode("grpc"),
    ]
    assert [mode.name for mode in pick_modes(modes)] == ["http-aiohttp+keys", "grpc"]
