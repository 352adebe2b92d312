"""Terminal API keys: issued and rotated with the admin token, checked on every cart call."""

from __future__ import annotations

import secrets
import uuid

from cart.domain.model import now_ms
from cart.storage.terminals import Terminal, TerminalStore, key_hash
from pos_commons.cache import TtlCache
from pos_commons.errors import UnauthenticatedError

API_KEY_PREFIX = "pos_"
_CACHE_NAMESPACE = "terminals"


REFUSED_KEYS_KEPT = 10_000
"""Refused keys remembered at once: a terminal misconfigured with a wrong key retrying
nonstop costs one database read per TERMINAL_CACHE_TTL_SECONDS, not one per call; a flood of
distinct keys cannot grow the memory beyond this."""


class TerminalService:
    def __init__(
        self,
        store: TerminalStore,
        cache: TtlCache[str, Terminal],
        refused: TtlCache[str, bool],
    ) -> None:
        self._store = store
        # Verified keys are trusted for a short TTL; a revocation in another cart process is
        # effective after at most that long (this process forgets at once).
        self._cache = cache
        # Refused keys stay refused as long: safe, since a key is only ever issued new (32
        # random bytes), never one that was tried before.
        self._refused = refused

    async def issue(
        self, tenant_id: str, store_code: str, terminal_no: int
    ) -> tuple[Terminal, str]:
        """A new terminal and its API key; the key is shown once and stored only hashed."""
        now = now_ms()
        terminal = Terminal(
            terminal_id=uuid.uuid4().hex,
            tenant_id=tenant_id,
            store_code=store_code,
            terminal_no=terminal_no,
            created_at=now,
            updated_at=now,
        )
        api_key = _new_key()
        await self._store.insert(terminal, key_hash(api_key))
        return terminal, api_key

    async def rotate(self, terminal_id: str) -> tuple[Terminal, str]:
        api_key = _new_key()
        terminal = await self._store.replace_key(terminal_id, key_hash(api_key), now_ms())
        self._cache.invalidate_namespace(_CACHE_NAMESPACE)
        return terminal, api_key

    async def revoke(self, terminal_id: str) -> None:
        await self._store.delete(terminal_id)
        self._cache.invalidate_namespace(_CACHE_NAMESPACE)

    async def list(self, tenant_id: str | None) -> list[Terminal]:
        return await self._store.list(tenant_id)

    async def authenticate(self, api_key: str | None) -> Terminal:
        if not api_key:
            raise UnauthenticatedError(
                "A terminal API key is required (X-API-Key header).", code="API_KEY_REQUIRED"
            )
        hashed = key_hash(api_key)
        terminal = self._cache.get(_CACHE_NAMESPACE, hashed)
        if terminal is None:
            if self._refused.get(_CACHE_NAMESPACE, hashed):
                raise _invalid_key()
            generation = self._cache.generation(_CACHE_NAMESPACE)
            terminal = await self._store.by_key_hash(hashed)
            if terminal is None:
                refused_at = self._refused.generation(_CACHE_NAMESPACE)
                self._refused.put(_CACHE_NAMESPACE, hashed, True, refused_at)
                raise _invalid_key()
            self._cache.put(_CACHE_NAMESPACE, hashed, terminal, generation)
        return terminal


def _invalid_key() -> UnauthenticatedError:
    return UnauthenticatedError("The API key is not valid.", code="INVALID_API_KEY")


def _new_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)
