"""Exact money: Decimal in the domain, Decimal128 in MongoDB, decimal strings on the wire.

Binary floats never carry money here. A JSON number would be parsed as a float before it
reaches us, so money fields accept decimal strings and integers and refuse floats outright.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

MAX_DECIMAL_PLACES = 6
MAX_DIGITS = 18


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('send money and rates as decimal strings such as "12.30", not floats')
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    return value


def _as_string(value: Decimal) -> str:
    return format_decimal(value)


_MoneyBase = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    PlainSerializer(_as_string, return_type=str, when_used="always"),
]

Money = Annotated[
    _MoneyBase,
    Field(ge=0, max_digits=MAX_DIGITS, decimal_places=MAX_DECIMAL_PLACES, allow_inf_nan=False),
]
"""A non-negative amount with at most six decimal places, serialized as a string."""

SignedMoney = Annotated[
    _MoneyBase,
    Field(max_digits=MAX_DIGITS, decimal_places=MAX_DECIMAL_PLACES, allow_inf_nan=False),
]
"""An amount that may be negative (a balance), serialized as a string."""

Percentage = Annotated[
    _MoneyBase,
    Field(ge=0, le=100, max_digits=9, decimal_places=4, allow_inf_nan=False),
]
"""A rate in percent, 0 to 100, serialized as a string."""


def format_decimal(value: Decimal) -> str:
    """The plain (never scientific) string of a decimal, keeping its exponent: 1.10 -> "1.10"."""
    return format(value, "f")


def parse_decimal(text: str) -> Decimal:
    """Parses a decimal string from the wire; raises ValueError on anything else."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value
