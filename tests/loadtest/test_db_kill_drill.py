"""The database-kill drill (scripts/db_kill_drill.sh) in a tiny configuration: it kills the
database under load, records the changes cart acknowledged, and its audit finds each of them
in the database afterwards; and when acknowledged changes are taken out of the database
behind its back, the audit reports exactly those as lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from pos_devstack.stack import start_secantus
from pos_loadtest.comparison.fresh_state import cart_tenant_databases
from pos_loadtest.drills.db_kill import Ack, DrillReport, _options, audit, drill
from pos_loadtest.probes.database_operations import database_client

pytestmark = pytest.mark.drill


def _take_out_changes(uri: str, report: DrillReport) -> tuple[Ack, Ack, Ack]:
    """Removes, behind cart's back, one created cart, the transaction record of one billed
    cart and the last line of one more cart; returns the acknowledged change each undoes."""
    billed = next(ack for ack in report.acks if ack.kind == "bill")
    added = next(
        ack
        for ack in reversed(report.acks)
        if ack.kind == "add" and ack.cart_id != billed.cart_id and len(ack.lines) >= 2
    )
    created = next(
        ack
        for ack in report.acks
        if ack.kind == "create" and ack.cart_id not in (billed.cart_id, added.cart_id)
    )
    with database_client(uri) as client:
        (name,) = cart_tenant_databases(client, report.tenant_id)
        db = client[name]
        assert db["carts"].delete_one({"_id": created.cart_id}).deleted_count == 1
        assert db["transactions"].delete_one({"cart_id": billed.cart_id}).deleted_count == 1
        stored = db["carts"].find_one({"_id": added.cart_id})
        assert stored is not None
        # The stored cart may have more lines than answered (a change cart answered 503).
        kept = {"$set": {"lines": stored["lines"][: len(added.lines) - 1]}}
        assert db["carts"].update_one({"_id": added.cart_id}, kept).modified_count == 1
    return created, billed, added


async def test_the_drill_kills_audits_and_reports_what_was_taken_out(tmp_path: Path) -> None:
    options = _options(
        ["--kills", "1", "--terminals", "2", "--seconds-per-round", "2", "--down", "0.2",
         "--sync-on-commit"]
    )  # fmt: skip
    report = await drill(options, tmp_path)

    assert len(report.rounds) == 1
    assert report.database_args == ["--sync-on-commit"]
    # The database was really gone for a while. cart refused changes meanwhile (503: its
    # database, or master-data's, the same here), or, an outage this short, rode it out: the
    # calls in flight wait for the database within their budget, and the terminals had none
    # but those (seen once: no call refused at all).
    assert report.rounds[0].ready_seconds >= 0.2
    refusals = (": 503 DATABASE_UNAVAILABLE", ": 503 MASTER_DATA_DATABASE_UNAVAILABLE")
    assert all(what.endswith(refusals) for what in report.failures), report.failures
    kinds = Counter(ack.kind for ack in report.acks)
    assert {"create", "add", "subtotal", "pay", "bill"} <= set(kinds), kinds
    keyed = [ack.key is not None for ack in report.acks]
    assert any(keyed)
    assert not all(keyed)
    assert report.rounds[0].audited > 0
    # Every fsync'd commit survives a SIGKILL (the figures of the default settings are the
    # drill's to tell, not this test's).
    assert not report.lost, report.summary()

    # The stack is stopped; its data stays. The database again, on the same data.
    database, uri = await asyncio.to_thread(start_secantus, tmp_path / "secantus", log_dir=tmp_path)
    try:
        created, billed, added = await asyncio.to_thread(_take_out_changes, uri, report)
        missing = await asyncio.to_thread(audit, uri, report.tenant_id, report.acks)
    finally:
        database.stop()

    def what_is_missing(ack: Ack) -> list[str]:
        return [what for what in missing.get(ack.number, []) if what != "idempotency record"]

    assert "cart missing" in what_is_missing(created)
    assert "transaction record" in what_is_missing(billed)
    assert f"{len(added.lines) - 1} lines, answered {len(added.lines)}" in what_is_missing(added)
    # Every change of the created cart is missing, and nothing of any other cart.
    lost_carts = {report.acks[n].cart_id for n in missing if what_is_missing(report.acks[n])}
    assert lost_carts == {created.cart_id, billed.cart_id, added.cart_id}
    of_created = [ack for ack in report.acks if ack.cart_id == created.cart_id]
    assert all("cart missing" in what_is_missing(ack) for ack in of_created)
