"""Domain records to protobuf messages. Decimals travel as their exact strings."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from master_data.domain import ItemDetail, PaymentMethod, TaxRuleView
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    common_pb2,
    item_service_pb2,
    payment_method_service_pb2,
)
from pos_commons.money import format_decimal
from pos_commons.tax import ROUNDING_METHOD_MESSAGES, TAX_TYPE_MESSAGES


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value)
    return message


def tax_rule_message(rule: TaxRuleView) -> common_pb2.TaxRule:
    return common_pb2.TaxRule(
        tax_code=rule.tax_code,
        name=rule.name,
        tax_type=TAX_TYPE_MESSAGES[rule.tax_type],
        rate=format_decimal(rule.rate),
        rounding_digits=rule.rounding_digits,
        rounding_method=ROUNDING_METHOD_MESSAGES[rule.rounding_method],
    )


def item_detail_message(detail: ItemDetail) -> item_service_pb2.ItemDetail:
    message = item_service_pb2.ItemDetail(
        item_code=detail.item_code,
        store_code=detail.store_code,
        description=detail.description,
        short_description=detail.short_description,
        category_code=detail.category_code,
        tax_code=detail.tax_code,
        unit_price=format_decimal(detail.unit_price),
        effective_price=format_decimal(detail.effective_price),
        is_discount_restricted=detail.is_discount_restricted,
        is_deleted=detail.is_deleted,
        tax_rule=tax_rule_message(detail.tax_rule),
        created_at=timestamp(detail.created_at),
        updated_at=timestamp(detail.updated_at),
    )
    if detail.store_price is not None:
        message.store_price = format_decimal(detail.store_price)
    return message


def payment_method_message(method: PaymentMethod) -> payment_method_service_pb2.PaymentMethod:
    return payment_method_service_pb2.PaymentMethod(
        payment_code=method.payment_code,
        name=method.name,
        can_give_change=method.can_give_change,
        can_exceed_balance=method.can_exceed_balance,
        is_active=method.is_active,
        created_at=timestamp(method.created_at),
        updated_at=timestamp(method.updated_at),
    )
