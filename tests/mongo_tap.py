"""A loopback proxy in front of a real MongoDB server that reads the commands drivers send.

The services under test connect to it (`uri`, a direct connection, so the driver does not
discover the server behind it and go around) instead of to the database. Every OP_MSG a
client sends is decoded (its command document, and the document sequences drivers send
beside it: an insert's `documents`, an update's `updates`) and kept in `sent`, then forwarded
unchanged; the replies come back untouched. While `stall` is set, every command other than the
driver's monitoring (hello, ping) is held back until it is cleared: a database that still
answers ping but whose work hangs, as a stalled disk or a held lock makes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bson

_HEADER = struct.Struct("<iiii")
_OP_MSG = 2013
_MONITORING = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions"})


@dataclass(frozen=True)
class Sent:
    """One command a client sent: its name, database and whole document, and the document
    sequences that came with it, by their identifier (`documents` of an insert...)."""

    name: str
    database: str
    document: dict[str, Any]
    sequences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def in_transaction(self) -> bool:
        return "txnNumber" in self.document and self.document.get("autocommit") is False


_CHECKSUM_PRESENT = 1


def _command_of(message: bytes) -> Sent | None:
    """The command of an OP_MSG (the section of kind 0) and its document sequences (sections
    of kind 1), None for anything else."""
    _, _, _, op_code = _HEADER.unpack_from(message)
    if op_code != _OP_MSG or message[20] != 0:
        return None
    (length,) = struct.unpack_from("<i", message, 21)
    document: dict[str, Any] = bson.decode(message[21 : 21 + length])
    (flags,) = struct.unpack_from("<I", message, 16)
    end = len(message) - (4 if flags & _CHECKSUM_PRESENT else 0)
    sequences: dict[str, list[dict[str, Any]]] = {}
    offset = 21 + length
    while offset < end and message[offset] == 1:
        (size,) = struct.unpack_from("<i", message, offset + 1)
        name_end = message.index(b"\0", offset + 5)
        identifier = message[offset + 5 : name_end].decode()
        sequences[identifier] = bson.decode_all(message[name_end + 1 : offset + 1 + size])
        offset += 1 + size
    name = next(iter(document))
    return Sent(name, str(document.get("$db", "")), document, sequences)


class MongoTap:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.sent: list[Sent] = []
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?retryWrites=false&directConnection=true"

    async def start(self) -> MongoTap:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stall(self) -> None:
        """Holds back every command but monitoring until `resume`."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def commands(self, where: Callable[[Sent], bool] = lambda sent: True) -> list[Sent]:
        return [sent for sent in self.sent if where(sent)]

    async def close(self) -> None:
        self.resume()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        requests = asyncio.create_task(self._requests(reader, up_writer))
        replies = asyncio.create_task(self._replies(up_reader, writer))
        self._tasks.update((requests, replies))
        try:
            await asyncio.wait((requests, replies), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (requests, replies):
                task.cancel()
                self._tasks.discard(task)
            for stream in (writer, up_writer):
                stream.close()

    async def _requests(self, reader: asyncio.StreamReader, upstream: asyncio.StreamWriter) -> None:
        while True:
            try:
                header = await reader.readexactly(_HEADER.size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            (length,) = struct.unpack_from("<i", header)
            message = header + await reader.readexactly(length - _HEADER.size)
            command = _command_of(message)
            if command is not None:
                self.sent.append(command)
                if command.name not in _MONITORING:
                    await self._flowing.wait()
            upstream.write(message)
            await upstream.drain()

    async def _replies(self, upstream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            chunk = await upstream.read(65536)
            if not chunk:
                return
            writer.write(chunk)
            await writer.drain()
