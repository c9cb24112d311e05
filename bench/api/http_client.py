"""A minimal HTTP/1.1 keep-alive client for the API benchmark's load generator.

The load generator shares the two cores with the node it measures, so what it spends per request
is taken from the server: with aiohttp it cost ~0.5 ms of CPU per request, about a tenth of the
whole node's. This client does only what the benchmark needs (one host, requests with a body,
answers with a Content-Length) on asyncio streams over a pool of persistent connections, which
is what aiohttp did for it too. Every request is still built, signed and sent one by one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


class HttpError(Exception):
    """The server's answer could not be read (the connection closed, a malformed head)."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class HttpPool:
    """Up to `limit` persistent connections to one server; a request waits for a free one."""

    def __init__(self, host: str, port: int, *, limit: int = 256) -> None:
        self.host, self.port = host, port
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)
        self._host_header = f"{host}:{port}".encode()

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """Send one request and return (status, body)."""
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host_header]
        head += [f"{name}: {value}".encode() for name, value in headers.items()]
        head.append(b"Content-Length: " + str(len(body)).encode())
        message = b"\r\n".join(head) + b"\r\n\r\n" + body
        async with self._slots:
            connection = await self._connection()
            try:
                connection.writer.write(message)
                status, answer, keep = await _read_answer(connection.reader)
            except BaseException:
                connection.writer.close()
                raise
            if keep:
                self._idle.append(connection)
            else:
                connection.writer.close()
            return status, answer

    async def _connection(self) -> _Connection:
        """An idle connection the server has not closed (uvicorn closes one idle for 5 s), or a new one."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.writer.close()
        return await self._open()

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def close(self) -> None:
        for connection in self._idle:
            connection.writer.close()
        self._idle.clear()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise HttpError("connection closed before an answer") from exc
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise HttpError(f"malformed status line {lines[0]!r}") from exc
    length, keep = None, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif name == b"transfer-encoding":
            raise HttpError("chunked answers are not expected here")
    if length is None:
        raise HttpError("answer without Content-Length")
    try:
        return status, await reader.readexactly(length), keep
    except asyncio.IncompleteReadError as exc:
        raise HttpError("connection closed inside an answer") from exc
