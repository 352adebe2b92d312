"""Exact money: Decimal in the domain, Decimal128 in MongoDB, decimal strings on the wire.

Binary floats never carry money here. On the way in, money is a JSON integer or a string of
ASCII digits with at most one dot and, where a type allows it, a leading minus: ``"12.30"``,
``"0"``, ``12``. Nothing else: no float, exponent, underscore, space, plus sign or digits of
another script (Python's Decimal would take ``"1_000"``, ``" 1"`` and ``"١٢٣"``; these types
do not). On the way out (JSON) a value is its exact decimal string, never scientific; stored
(Python mode) it stays a Decimal, which the Mongo codec writes as Decimal128. Documents
written when money was stored as strings still read: a stored string goes through the same
check.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

MAX_DECIMAL_PLACES = 6
MAX_DIGITS = 18
AMOUNT_LIMIT = Decimal(10) ** (MAX_DIGITS - MAX_DECIMAL_PLACES)
"""Every amount the models hold is below this (12 whole digits)."""
MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
"""What a money string may look like (ASCII only: [0-9], not \\d)."""

_MONEY_TEXT = re.compile(MONEY_PATTERN)


def _strict_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, float):
        raise ValueError('send money and rates as decimal strings such as "12.30", not floats')
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        if not _MONEY_TEXT.fullmatch(value):
            raise ValueError('write amounts with ASCII digits and at most one dot, such as "12.30"')
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    raise ValueError('an amount is a decimal string such as "12.30"')


def format_decimal(value: Decimal) -> str:
    """The plain (never scientific) string of a decimal, keeping its exponent: 1.10 -> "1.10"."""
    # str() is plain unless the exponent is positive or the value tiny (1E+2, 1E-7), and it
    # costs less than half of format(): it runs for every amount of every answer.
    text = str(value)
    return format(value, "f") if "E" in text else text


_MoneyBase = Annotated[
    Decimal,
    BeforeValidator(_strict_decimal),
    PlainSerializer(format_decimal, return_type=str, when_used="json"),
]

_UNSIGNED_PATTERN = r"^[0-9]+(\.[0-9]+)?$"

Money = Annotated[
    _MoneyBase,
    Field(ge=0, max_digits=MAX_DIGITS, decimal_places=MAX_DECIMAL_PLACES, allow_inf_nan=False),
    WithJsonSchema({"type": "string", "pattern": _UNSIGNED_PATTERN, "examples": ["12.30"]}),
]
"""A non-negative amount with at most six decimal places: a string on the wire."""

SignedMoney = Annotated[
    _MoneyBase,
    Field(max_digits=MAX_DIGITS, decimal_places=MAX_DECIMAL_PLACES, allow_inf_nan=False),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["-0.50"]}),
]
"""An amount that may be negative (a balance): a string on the wire."""

Percentage = Annotated[
    _MoneyBase,
    Field(ge=0, le=100, max_digits=9, decimal_places=4, allow_inf_nan=False),
    WithJsonSchema({"type": "string", "pattern": _UNSIGNED_PATTERN, "examples": ["10"]}),
]
"""A rate in percent, 0 to 100: a string on the wire."""


def parse_decimal(text: str) -> Decimal:
    """Parses a decimal string from another service; raises ValueError on anything else."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value
