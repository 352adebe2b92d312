"""The fast Decimal <-> Decimal128 conversion is bson's own, bit for bit, digit for digit."""

from __future__ import annotations

import struct
from decimal import Decimal

import bson
import pytest
from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_commons import mongo
from pos_commons.mongo import CODEC_OPTIONS, decimal_from_bson, decimal_to_bson

EDGES = [
    "0",
    "-0",
    "0.00",
    "-0.00",
    "0E-6176",
    "0E+6111",
    "1",
    "-1",
    "12.34",
    "-12.34",
    "1E+5",
    "100",
    "1.0",
    "0.0000001",
    "9" * 34,
    "-" + "9" * 34,
    "1E-6176",
    "1E+6111",
    "9" * 34 + "E+6111",
    "1" + "0" * 16 + "1",  # a coefficient that needs both 64-bit words
    "18446744073709551616",
    "18446744073709551615",
]
SPECIAL = ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"]


def _bid(words: tuple[int, int]) -> Decimal128:
    high, low = words
    return Decimal128.from_bid(struct.pack("<QQ", low, high))


def _same(a: Decimal, b: Decimal) -> bool:
    return str(a) == str(b)


def test_edges_and_specials_match_bson() -> None:
    for text in EDGES + SPECIAL:
        value = Decimal(text)
        assert decimal_to_bson(value).bid == Decimal128(value).bid, text
        stored = Decimal128(value)
        assert _same(decimal_from_bson(stored), stored.to_decimal()), text


def test_values_bson_rounds_or_refuses_go_to_bson() -> None:
    # 36 digits with two trailing zeros fit once rounded; 35 significant digits do not.
    for text in ["1" * 34 + "00", "1" * 35, "1E+7000", "1E-7000", "1E+6112"]:
        try:
            expected: bytes | type[Exception] = Decimal128(Decimal(text)).bid
        except Exception as exc:
            expected = type(exc)
        try:
            got: bytes | type[Exception] = decimal_to_bson(Decimal(text)).bid
        except Exception as exc:
            got = type(exc)
        assert got == expected, text


def test_non_canonical_bid_decodes_as_bson_does() -> None:
    too_big = _bid((0x3040 << 48 | (1 << 49) - 1, (1 << 64) - 1))  # coefficient > 10^34-1
    just_too_big = _bid((0x3040 << 48 | 10**34 >> 64, 10**34 & (1 << 64) - 1))
    special_form = _bid((0x6C10 << 48, 1))
    for stored in (too_big, just_too_big, special_form):
        assert _same(decimal_from_bson(stored), stored.to_decimal())


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(
    st.integers(min_value=-(10**34) + 1, max_value=10**34 - 1),
    st.integers(min_value=-6176, max_value=6111),
)
def test_any_finite_decimal_round_trips_like_bson(coefficient: int, exponent: int) -> None:
    value = Decimal(coefficient).scaleb(exponent, bson.decimal128.create_decimal128_context())
    ours = decimal_to_bson(value)
    assert ours.bid == Decimal128(value).bid
    back = decimal_from_bson(ours)
    assert _same(back, ours.to_decimal())
    assert back == value
    assert back.as_tuple() == value.as_tuple()


def test_documents_round_trip_through_the_codec() -> None:
    document = {"amount": Decimal("12.30"), "lines": [{"price": Decimal("-0.05")}]}
    data = bson.encode(document, codec_options=CODEC_OPTIONS)
    assert bson.decode(data)["amount"] == Decimal128("12.30")
    back = bson.decode(data, codec_options=CODEC_OPTIONS)
    assert back == document
    assert str(back["amount"]) == "12.30"


def test_equal_values_keep_their_own_digits() -> None:
    """Conversions are remembered by exact value: 1.5 and 1.50 are equal Decimals, but each
    is stored and read back with its own digits, whichever was converted first."""
    groups = [["1.5", "1.50", "1.500"], ["0", "-0", "0.00", "0E+3"], ["100", "1E+2", "1.00E+2"]]
    for texts in groups:
        for order in (texts, list(reversed(texts))):
            for text in order:
                value = Decimal(text)
                assert decimal_to_bson(value).bid == Decimal128(value).bid, text
                stored = Decimal128(value)
                assert _same(decimal_from_bson(stored), stored.to_decimal()), text


def test_remembered_conversions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mongo, "_MEMO_LIMIT", 10)
    for cents in range(100):
        value = Decimal(cents).scaleb(-2)
        assert decimal_from_bson(decimal_to_bson(value)) == value
    assert len(mongo._to_bson_memo) <= 10
    assert len(mongo._from_bson_memo) <= 10
