"""Tenants: bootstrap (collections, indexes, default tax rules) and existence checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from pymongo.errors import DuplicateKeyError

from master_data.domain import RoundingMethod, TaxRule, TaxType, Tenant, now_ms
from master_data.storage.kinds import ALL_KINDS, TAX_RULES
from master_data.storage.records import RecordStore
from pos_commons.errors import ConflictError, NotFoundError
from pos_commons.mongo import Mongo, ensure_indexes

TENANTS = "tenants"

# (code, name, type, rate %, rounding digits, rounding method)
DEFAULT_TAX_RULES: tuple[tuple[str, str, TaxType, str, int, RoundingMethod], ...] = (
    ("STD", "Standard rate (added)", TaxType.EXTERNAL, "10", 2, RoundingMethod.HALF_UP),
    ("RED", "Reduced rate (added)", TaxType.EXTERNAL, "8", 2, RoundingMethod.HALF_UP),
    ("INC", "Standard rate (included)", TaxType.INTERNAL, "10", 2, RoundingMethod.HALF_UP),
    ("EXM", "Exempt", TaxType.EXEMPT, "0", 2, RoundingMethod.HALF_UP),
)


class TenantNotFoundError(NotFoundError):
    default_code = "TENANT_NOT_FOUND"


Prepare = Callable[[str], Awaitable[None]]
"""What else a tenant's database needs (the catalog feed's pre-images and marks)."""


async def _nothing(tenant_id: str) -> None:
    return None


class TenantService:
    def __init__(self, mongo: Mongo, prepare: Prepare = _nothing) -> None:
        self._mongo = mongo
        self._prepare = prepare
        self._tax_rules = RecordStore(mongo, TAX_RULES)
        # Tenants are never deleted, so a tenant seen once stays known for the process's life.
        self._known: set[str] = set()

    async def setup(self) -> None:
        await self._mongo.system_db()[TENANTS].create_index("tenant_id", unique=True)
        for tenant in await self.list():
            await self._prepare(tenant.tenant_id)

    async def create(self, tenant_id: str, name: str) -> Tenant:
        db = self._mongo.tenant_db(tenant_id)
        if await self._find(tenant_id) is not None:
            raise ConflictError(f"Tenant {tenant_id!r} already exists.", code="TENANT_EXISTS")
        for kind in ALL_KINDS:
            await ensure_indexes(db, kind.indexes())
        await self._prepare(tenant_id)
        await self._seed_tax_rules(tenant_id)
        now = now_ms()
        tenant = Tenant(tenant_id=tenant_id, name=name, created_at=now, updated_at=now)
        try:
            await self._mongo.system_db()[TENANTS].insert_one(tenant.model_dump(by_alias=False))
        except DuplicateKeyError as exc:
            raise ConflictError(
                f"Tenant {tenant_id!r} already exists.", code="TENANT_EXISTS"
            ) from exc
        self._known.add(tenant_id)
        return tenant

    async def _seed_tax_rules(self, tenant_id: str) -> None:
        now = now_ms()
        for code, name, tax_type, rate, digits, method in DEFAULT_TAX_RULES:
            rule = TaxRule(
                tax_code=code,
                name=name,
                tax_type=tax_type,
                rate=Decimal(rate),
                rounding_digits=digits,
                rounding_method=method,
                created_at=now,
                updated_at=now,
            )
            try:
                await self._tax_rules.insert(tenant_id, rule)
            except ConflictError:
                continue  # a bootstrap that was interrupted and is now run again

    async def _find(self, tenant_id: str) -> Tenant | None:
        document = await self._mongo.system_db()[TENANTS].find_one(
            {"tenant_id": tenant_id}, {"_id": False}
        )
        return None if document is None else Tenant.model_validate(document)

    async def get(self, tenant_id: str) -> Tenant:
        self._mongo.tenant_db(tenant_id)  # validates the id
        tenant = await self._find(tenant_id)
        if tenant is None:
            raise TenantNotFoundError(f"No tenant {tenant_id!r}.", details={"tenantId": tenant_id})
        self._known.add(tenant_id)
        return tenant

    async def list(self) -> list[Tenant]:
        cursor = self._mongo.system_db()[TENANTS].find({}, {"_id": False}).sort("tenant_id")
        return [Tenant.model_validate(document) async for document in cursor]

    async def require(self, tenant_id: str) -> None:
        """Raises TENANT_NOT_FOUND (or INVALID_TENANT_ID) unless the tenant exists."""
        if tenant_id not in self._known:
            await self.get(tenant_id)
