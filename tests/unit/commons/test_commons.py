"""Pure pieces of commons: money, identifiers, the TTL cache, settings, tokens, the MongoDB
client's options."""

from __future__ import annotations

import typing
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from pos_commons.auth import Role, TokenVerifier, bearer_token
from pos_commons.cache import TtlCache
from pos_commons.errors import ForbiddenError, UnauthenticatedError
from pos_commons.money import Money, format_decimal, parse_decimal
from pos_commons.mongo import Concerns, Mongo
from pos_commons.settings import AppEnv, ServiceSettings
from pos_commons.validation import is_code, is_tenant_id


class Priced(BaseModel):
    price: Money


def test_money_is_exact_and_refuses_floats() -> None:
    assert Priced.model_validate({"price": "1.10"}).model_dump(mode="json") == {"price": "1.10"}
    assert Priced.model_validate({"price": 3}).price == Decimal(3)
    for bad in (1.1, "-1", "1.1234567", "NaN", "Infinity", True, "abc", None):
        with pytest.raises(ValidationError):
            Priced.model_validate({"price": bad})
    assert format_decimal(Decimal("1E+2")) == "100"
    assert format_decimal(Decimal("0.10")) == "0.10"
    assert parse_decimal("12.345") == Decimal("12.345")
    for bad_text in ("", "x", "NaN", "inf"):
        with pytest.raises(ValueError, match="decimal"):
            parse_decimal(bad_text)


@settings(max_examples=500, derandomize=True)
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_a_decimal_is_written_plain_with_every_place(value: Decimal) -> None:
    text = format_decimal(value)
    assert "E" not in text
    assert text == format(value, "f")
    assert Decimal(text).as_tuple() == value.as_tuple()  # the same digits and exponent


def test_identifiers() -> None:
    assert is_tenant_id("demo")
    assert is_tenant_id("t-1_x")
    for bad in ("", "Demo", "a" * 33, "_x", "a/b", "a.b", "a b"):
        assert not is_tenant_id(bad), bad
    assert is_code("ITEM-0001.a_b")
    for bad in ("", "-x", "a b", "a,b", "a/b", "x" * 65):
        assert not is_code(bad), bad


def test_ttl_cache_expires_evicts_and_invalidates_per_namespace() -> None:
    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(ttl_seconds=10, max_entries=2, clock=lambda: now[0])
    cache.put("t1", "a", 1, cache.generation("t1"))
    cache.put("t2", "a", 2, cache.generation("t2"))
    assert cache.get("t1", "a") == 1
    cache.put("t1", "b", 3, cache.generation("t1"))  # over max_entries: the oldest put goes
    assert cache.get("t1", "a") is None
    assert cache.stats.evictions == 1
    cache.invalidate_namespace("t2")
    assert cache.get("t2", "a") is None
    assert cache.get("t1", "b") == 3
    now[0] = 11.0
    assert cache.get("t1", "b") is None
    assert cache.stats.hits == 2
    assert cache.stats.misses == 3
    assert cache.stats.hit_rate == pytest.approx(0.4)
    off: TtlCache[str, int] = TtlCache(ttl_seconds=0)
    off.put("t", "k", 1, off.generation("t"))
    assert off.get("t", "k") is None
    assert not off.enabled


def test_ttl_cache_drops_a_value_read_before_an_invalidation() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl_seconds=60)
    before = cache.generation("t1")  # a reader starts, reads the old value from the database
    cache.invalidate_namespace("t1")  # a write lands and invalidates meanwhile
    cache.put("t1", "price", "old", before)  # the slow reader finishes
    assert cache.get("t1", "price") is None
    assert cache.stats.stale_puts == 1
    cache.put("t1", "price", "new", cache.generation("t1"))
    assert cache.get("t1", "price") == "new"
    other = cache.generation("t2")
    cache.invalidate_namespace("t1")  # another tenant's write leaves t2 alone
    cache.put("t2", "price", "kept", other)
    assert cache.get("t2", "price") == "kept"


def test_ttl_cache_invalidation_does_not_visit_entries() -> None:
    """Invalidating one tenant costs the same however many entries other tenants hold."""
    cache: TtlCache[tuple[str, int], int] = TtlCache(ttl_seconds=60, max_entries=200_000)
    for tenant in range(100):
        generation = cache.generation(f"t{tenant}")
        for key in range(1000):
            cache.put(f"t{tenant}", (f"t{tenant}", key), key, generation)

    class Untouchable(dict[object, object]):
        def __iter__(self) -> typing.Iterator[object]:
            raise AssertionError("invalidation walked the entries")

        def items(self) -> typing.Any:
            raise AssertionError("invalidation walked the entries")

    entries = cache._entries
    cache._entries = Untouchable(entries)  # type: ignore[assignment]
    cache.invalidate_namespace("t7")
    cache._entries = entries
    assert cache.get("t7", ("t7", 1)) is None
    assert cache.get("t8", ("t8", 1)) == 1


def test_production_settings_refuse_missing_weak_or_equal_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    for admin, service in (("", ""), ("short", "x" * 40), ("x" * 40, "x" * 40)):
        monkeypatch.setenv("ADMIN_TOKEN", admin)
        monkeypatch.setenv("SERVICE_TOKEN", service)
        with pytest.raises(ValidationError):
            ServiceSettings()
    monkeypatch.setenv("ADMIN_TOKEN", "a" * 40)
    monkeypatch.setenv("SERVICE_TOKEN", "s" * 40)
    assert ServiceSettings().app_env is AppEnv.PRODUCTION
    assert ServiceSettings().resolved_tokens() == ("a" * 40, "s" * 40)


def test_a_refused_setting_does_not_show_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not even a part of it: pydantic shows a truncated dict of the input by default."""
    monkeypatch.setenv("APP_ENV", "production")
    shared = "Shared-0123456789-abcdefghijklmnopqrstuvwxyz"
    for admin, service in (
        ("Short-but-secret", "Service-0123456789-abcdefghijklmnopqrstuvwxyz"),
        (shared, shared),
    ):
        monkeypatch.setenv("ADMIN_TOKEN", admin)
        monkeypatch.setenv("SERVICE_TOKEN", service)
        with pytest.raises(ValidationError) as refused:
            ServiceSettings()
        shown = str(refused.value)  # what a failed start prints
        for token in (admin, service):
            fragments = {token[i : i + 8] for i in range(len(token) - 7)}
            assert not [f for f in fragments if f in shown], shown
        assert "ADMIN_TOKEN" in shown


def test_development_generates_missing_tokens(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("SERVICE_TOKEN", raising=False)
    monkeypatch.setenv("APP_ENV", "development")
    with caplog.at_level("WARNING"):
        admin, service = ServiceSettings().resolved_tokens()
    assert admin not in caplog.text
    assert service not in caplog.text
    assert "ADMIN_TOKEN not set" in caplog.text
    assert len(admin) >= 32
    assert len(service) >= 32
    assert admin != service


def test_token_verifier() -> None:
    verifier = TokenVerifier("admin-token", "service-token")
    assert verifier.authorize("Bearer admin-token", Role.ADMIN) is Role.ADMIN
    assert verifier.authorize("bearer service-token", Role.READER) is Role.READER
    assert verifier.authorize("Bearer admin-token", Role.READER) is Role.ADMIN
    cases = [
        (None, Role.READER, UnauthenticatedError, "AUTH_REQUIRED"),
        ("Basic abc", Role.READER, UnauthenticatedError, "AUTH_REQUIRED"),
        ("Bearer ", Role.READER, UnauthenticatedError, "AUTH_REQUIRED"),
        ("Bearer nope", Role.READER, UnauthenticatedError, "INVALID_TOKEN"),
        ("Bearer service-token", Role.ADMIN, ForbiddenError, "ADMIN_REQUIRED"),
    ]
    for header, role, error, code in cases:
        with pytest.raises(error) as raised:
            verifier.authorize(header, role)
        assert raised.value.code == code
    assert bearer_token("Bearer  x ") == "x"
    with pytest.raises(ValueError, match="both"):
        TokenVerifier("", "x")


async def test_a_database_that_is_back_is_looked_for_every_two_seconds() -> None:
    """Not pymongo's 10 s: requests are served again within about 2 s of the database's
    return (docs/architecture.md; tests/cart/test_restarts.py waits for it). No connection
    is made: the client connects on its first operation."""
    mongo = Mongo(
        "mongodb://127.0.0.1:9",
        database_prefix="cart",
        timeout_seconds=2,
        operation_timeout_seconds=5,
        max_idle_seconds=60,
        concerns=Concerns(),
    )
    try:
        assert mongo.client.options.heartbeat_frequency == 2.0
    finally:
        await mongo.client.close()
