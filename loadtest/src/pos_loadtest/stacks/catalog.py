"""master-data on an in-memory SecantusDB: what the benches and drills that need the catalog
start first (the demo catalog is the caller's to load, from async code or not; a cart may
share the database, `uri`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pos_devstack.stack import MasterDataProcess, Tokens, start_master_data, start_secantus


@dataclass(frozen=True)
class CatalogService:
    master: MasterDataProcess
    uri: str
    """The database's MongoDB URI."""


@contextmanager
def catalog_service(work: Path, tokens: Tokens) -> Iterator[CatalogService]:
    """Both started (logs in `work`), both stopped when the block ends, however it ends."""
    database, uri = start_secantus(":memory:", log_dir=work)
    try:
        master = start_master_data(uri, tokens, log_dir=work)
        try:
            yield CatalogService(master, uri)
        finally:
            master.process.stop()
    finally:
        database.stop()
