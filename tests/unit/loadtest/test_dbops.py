"""Database operations counted at the database: opcounters and what is cart's share."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pymongo import MongoClient

from pos_loadtest.probes.database_operations import (
    PROBE_CALLS_PER_WINDOW,
    OpcounterProbe,
    cart_operations,
    opcounter_total,
)


def _status(**counters: int) -> dict[str, Any]:
    return {"opcounters": counters, "ok": 1.0}


def test_every_opcounter_counts() -> None:
    status = _status(insert=1, query=20, update=300, delete=4000, getmore=50000, command=600000)
    assert opcounter_total(status) == 654321


def test_cart_s_share_is_the_growth_less_master_data_s() -> None:
    assert cart_operations(1306.0, 209.0) == pytest.approx(1097.0)
    assert cart_operations(1306.0, None) is None


class _Admin:
    def __init__(self, answers: list[dict[str, Any] | Exception]) -> None:
        self.answers = answers

    def command(self, name: str) -> dict[str, Any]:
        assert name == "serverStatus"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class _Client:
    def __init__(self, answers: list[dict[str, Any] | Exception]) -> None:
        self.admin = _Admin(answers)


def _probe(answers: list[dict[str, Any] | Exception]) -> OpcounterProbe:
    return OpcounterProbe(cast(MongoClient[dict[str, Any]], _Client(answers)))


def test_the_probe_takes_its_own_closing_call_off() -> None:
    # The server counts a command on arrival: the closing serverStatus is in the growth.
    probe = _probe([_status(query=10, command=5), _status(query=110, command=26)])
    probe.open({})
    probe.close()
    assert PROBE_CALLS_PER_WINDOW == 1
    assert probe.grown == 120.0


def test_a_server_that_refuses_serverstatus_gives_no_figure() -> None:
    probe = _probe([_status(command=1), PermissionError("not authorized")])
    probe.open({})
    probe.close()
    assert probe.grown is None
