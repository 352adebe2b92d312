"""Transaction records and the per-terminal receipt counter."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from cart.domain.model import Cart, CartModel, Discount, LineItem, Payment, TaxSummary, Totals
from cart.storage.carts import COUNTERS, TRANSACTIONS, TenantDatabases
from pos_commons.errors import NotFoundError


class TransactionType(StrEnum):
    SALE = "sale"
    CANCEL = "cancel"


class TransactionRecord(CartModel):
    transaction_id: str
    transaction_type: TransactionType
    receipt_no: int
    tenant_id: str
    store_code: str
    terminal_no: int
    cart_id: str
    lines: list[LineItem]
    cart_discounts: list[Discount]
    payments: list[Payment]
    taxes: list[TaxSummary]
    totals: Totals
    created_at: datetime

    @classmethod
    def of(cls, cart: Cart, transaction_type: TransactionType) -> TransactionRecord:
        assert cart.receipt_no is not None
        assert cart.transaction_id is not None
        return cls(
            transaction_id=cart.transaction_id,
            transaction_type=transaction_type,
            receipt_no=cart.receipt_no,
            tenant_id=cart.tenant_id,
            store_code=cart.store_code,
            terminal_no=cart.terminal_no,
            cart_id=cart.cart_id,
            lines=cart.lines,
            cart_discounts=cart.cart_discounts,
            payments=cart.payments,
            taxes=cart.taxes,
            totals=cart.totals,
            created_at=cart.updated_at,
        )


class TransactionNotFoundError(NotFoundError):
    default_code = "TRANSACTION_NOT_FOUND"


class TransactionStore:
    def __init__(self, databases: TenantDatabases) -> None:
        self._databases = databases

    async def next_receipt_no(
        self, tenant_id: str, store_code: str, terminal_no: int, session: AsyncClientSession
    ) -> int:
        """The terminal's next receipt number; inside the bill's transaction, so a bill that
        does not happen does not use a number up."""
        counters = await self._databases.collection(tenant_id, COUNTERS)
        counter = await counters.find_one_and_update(
            {"_id": f"{store_code}/{terminal_no}"},
            {"$inc": {"last_receipt_no": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return int(counter["last_receipt_no"])

    async def insert(self, record: TransactionRecord, session: AsyncClientSession) -> None:
        document = {"_id": record.transaction_id, **record.model_dump(by_alias=False)}
        transactions = await self._databases.collection(record.tenant_id, TRANSACTIONS)
        await transactions.insert_one(document, session=session)

    async def closed(self, tenant_id: str, cart_id: str) -> bool:
        """Whether the cart `cart_id` was billed or cancelled (its record outlives it)."""
        transactions = await self._databases.collection(tenant_id, TRANSACTIONS)
        return await transactions.find_one({"cart_id": cart_id}, {"_id": 1}) is not None

    async def get(
        self, tenant_id: str, store_code: str, terminal_no: int, receipt_no: int
    ) -> TransactionRecord:
        transactions = await self._databases.collection(tenant_id, TRANSACTIONS)
        document = await transactions.find_one(
            {"store_code": store_code, "terminal_no": terminal_no, "receipt_no": receipt_no}
        )
        if document is None:
            raise TransactionNotFoundError(
                f"No transaction with receipt number {receipt_no} for this terminal.",
                details={"receiptNo": receipt_no},
            )
        return TransactionRecord.model_validate(document)
