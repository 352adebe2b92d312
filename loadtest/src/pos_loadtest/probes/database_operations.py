"""Database operations per request, counted at the database: the same measure for every cart,
whatever code it runs (older code may not count its own commands in /metrics).

Over the window the probe reads the server's `serverStatus.opcounters` (insert, query, update,
delete, getmore and command: one count per command received) before and after. What cart sent
is that growth minus what master-data sent (its /metrics `mongodb_commands_total`) and minus
the probe's own closing serverStatus. What remains besides cart's commands: the drivers'
monitoring `hello`s of cart and master-data (a few every 10 s; drivers do not report those as
commands) and the handshake of each connection opened in the window. docs/performance.md
compares it with cart's own count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient

from pos_loadtest.probes.prometheus import Exposition

OPCOUNTERS = ("insert", "query", "update", "delete", "getmore", "command")

COMMANDS_FAMILY = "mongodb_commands"
"""The counter of database commands a service sent, in its /metrics."""
COMMANDS = "commands"

PROBE_CALLS_PER_WINDOW = 1
"""The server counts a command when it arrives, before answering: the opening serverStatus is
in the opening snapshot, the closing one in the closing snapshot, so one is in the growth."""


def database_client(uri: str) -> MongoClient[dict[str, Any]]:
    """A client that sends nothing unasked during a window: polling monitoring (no streaming
    hello, no round-trip pinger) once an hour."""
    return MongoClient(
        uri,
        serverMonitoringMode="poll",
        heartbeatFrequencyMS=3_600_000,
        serverSelectionTimeoutMS=10_000,
        appname="pos-loadtest",
    )


def commands_sent(metrics: Exposition) -> dict[str, float] | None:
    """Database commands a service has sent so far, every command name together; None where
    the service does not count them (older code)."""
    sent = metrics.total(COMMANDS_FAMILY, f"{COMMANDS_FAMILY}_total")
    return None if sent is None else {COMMANDS: sent}


def opcounter_total(server_status: Mapping[str, Any]) -> int:
    counters = server_status["opcounters"]
    return sum(int(counters.get(name, 0)) for name in OPCOUNTERS)


def cart_operations(database_grown: float, master_data_commands: float | None) -> float | None:
    """What cart sent over the window, from the database's growth (the probe's own call taken
    off already); None when master-data's share is unknown."""
    if master_data_commands is None:
        return None
    return database_grown - master_data_commands


@dataclass
class OpcounterProbe:
    """How many commands the database received over the window, the probe's own taken off
    (None: serverStatus not allowed, e.g. an external MongoDB without the privilege)."""

    client: MongoClient[dict[str, Any]]
    grown: float | None = None
    _start: int | None = None

    def _read(self) -> int | None:
        try:
            return opcounter_total(self.client.admin.command("serverStatus"))
        except Exception:  # no privilege, or not a MongoDB that reports opcounters
            return None

    def open(self, pids: Mapping[str, int]) -> None:
        self._start = self._read()

    def close(self) -> None:
        end = self._read()
        if end is None or self._start is None:
            self.grown = None
        else:
            self.grown = float(end - self._start - PROBE_CALLS_PER_WINDOW)
