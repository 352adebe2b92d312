"""Domain records to protobuf messages. Decimals travel as their exact strings."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from master_data.domain import (
    CatalogChange,
    ChangeKind,
    FeedHeartbeat,
    FeedMessage,
    Item,
    ItemDetail,
    PaymentMethod,
    Store,
    StorePrice,
    TaxRule,
)
from pos_commons.grpc_stubs.pos.masterdata.v1 import (
    catalog_feed_service_pb2,
    common_pb2,
    item_service_pb2,
    payment_method_service_pb2,
)
from pos_commons.money import format_decimal
from pos_commons.tax import ROUNDING_METHOD_MESSAGES, TAX_TYPE_MESSAGES, TaxRuleTerms


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value)
    return message


def tax_rule_message(rule: TaxRuleTerms) -> common_pb2.TaxRule:
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


CHANGE_KINDS = {
    ChangeKind.ITEM: catalog_feed_service_pb2.CATALOG_CHANGE_KIND_ITEM,
    ChangeKind.STORE_PRICE: catalog_feed_service_pb2.CATALOG_CHANGE_KIND_STORE_PRICE,
    ChangeKind.TAX_RULE: catalog_feed_service_pb2.CATALOG_CHANGE_KIND_TAX_RULE,
    ChangeKind.PAYMENT_METHOD: catalog_feed_service_pb2.CATALOG_CHANGE_KIND_PAYMENT_METHOD,
    ChangeKind.STORE: catalog_feed_service_pb2.CATALOG_CHANGE_KIND_STORE,
}


def _change_message(change: CatalogChange) -> catalog_feed_service_pb2.WatchCatalogResponse:
    message = catalog_feed_service_pb2.CatalogChange(
        kind=CHANGE_KINDS[change.kind],
        key=catalog_feed_service_pb2.CatalogKey(**change.key),
        deleted=change.deleted,
        changed_at=timestamp(change.changed_at),
    )
    value = change.value
    if isinstance(value, Item):
        message.item.CopyFrom(
            catalog_feed_service_pb2.CatalogItem(
                item_code=value.item_code,
                description=value.description,
                short_description=value.short_description,
                category_code=value.category_code,
                tax_code=value.tax_code,
                unit_price=format_decimal(value.unit_price),
                is_discount_restricted=value.is_discount_restricted,
                is_deleted=value.is_deleted,
            )
        )
    elif isinstance(value, StorePrice):
        message.store_price.CopyFrom(
            catalog_feed_service_pb2.CatalogStorePrice(
                store_code=value.store_code,
                item_code=value.item_code,
                price=format_decimal(value.price),
            )
        )
    elif isinstance(value, TaxRule):
        message.tax_rule.CopyFrom(tax_rule_message(value))
    elif isinstance(value, PaymentMethod):
        message.payment_method.CopyFrom(payment_method_message(value))
    elif isinstance(value, Store):
        message.store.CopyFrom(
            catalog_feed_service_pb2.CatalogStore(
                store_code=value.store_code, name=value.name, is_active=value.is_active
            )
        )
    return catalog_feed_service_pb2.WatchCatalogResponse(token=change.token, change=message)


def feed_message(message: FeedMessage) -> catalog_feed_service_pb2.WatchCatalogResponse:
    """A feed message on the wire; a change is encoded once for all its subscribers."""
    if isinstance(message, CatalogChange):
        return message.memo("grpc", _change_message)
    if isinstance(message, FeedHeartbeat):
        return catalog_feed_service_pb2.WatchCatalogResponse(
            token=message.token,
            heartbeat=catalog_feed_service_pb2.FeedHeartbeat(sent_at=timestamp(message.sent_at)),
        )
    return catalog_feed_service_pb2.WatchCatalogResponse(
        token=message.token,
        start_over=catalog_feed_service_pb2.FeedStartOver(reason=message.reason),
    )
