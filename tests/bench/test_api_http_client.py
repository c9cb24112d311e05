"""The API benchmark's keep-alive HTTP client (bench/api/http_client.py) against a real socket
server: what it sends, what it reads back, connection reuse, and answers it must refuse."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.api.http_client import HttpError, HttpPool


async def _serve(answers: list[bytes], seen: list[tuple[bytes, bytes]], connections: list[int]):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while answers:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            seen.append((head, await reader.readexactly(length)))
            writer.write(answers.pop(0))
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _answer(status: int, body: dict, *extra: str) -> bytes:
    data = json.dumps(body).encode()
    head = [f"HTTP/1.1 {status} X", "content-type: application/json", f"content-length: {len(data)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def test_requests_go_out_whole_and_answers_come_back_on_one_connection():
    async def run() -> None:
        seen: list[tuple[bytes, bytes]] = []
        connections: list[int] = []
        answers = [_answer(200, {"id": "1"}), _answer(400, {"code": "INVALID_ORDER"})]
        server = await _serve(answers, seen, connections)
        port = server.sockets[0].getsockname()[1]
        pool = HttpPool("127.0.0.1", port)
        first = await pool.request("POST", "/api/v1/order", b'{"a": 1}', {"X-API-Key": "k"})
        second = await pool.request("DELETE", "/api/v1/order", b"{}", {})
        await pool.close()
        server.close()

        assert first == (200, b'{"id": "1"}')
        assert second == (400, b'{"code": "INVALID_ORDER"}')
        assert connections == [1]  # kept alive
        head, body = seen[0]
        assert head.startswith(b"POST /api/v1/order HTTP/1.1\r\n")
        assert b"\r\nX-API-Key: k\r\n" in head
        assert body == b'{"a": 1}'
        assert seen[1][0].startswith(b"DELETE /api/v1/order HTTP/1.1\r\n")

    asyncio.run(run())


def test_a_connection_the_server_closes_is_not_reused():
    async def run() -> None:
        seen: list[tuple[bytes, bytes]] = []
        connections: list[int] = []
        answers = [_answer(200, {}, "connection: close"), _answer(200, {})]
        server = await _serve(answers, seen, connections)
        port = server.sockets[0].getsockname()[1]
        pool = HttpPool("127.0.0.1", port)
        await pool.request("POST", "/", b"{}", {})
        await pool.request("POST", "/", b"{}", {})
        await pool.close()
        server.close()

        assert len(connections) == 2

    asyncio.run(run())


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"garbage\r\n\r\n",
    ],
)
def test_answers_it_cannot_read_raise(answer):
    async def run() -> None:
        server = await _serve([answer], [], [])
        port = server.sockets[0].getsockname()[1]
        pool = HttpPool("127.0.0.1", port)
        with pytest.raises(HttpError):
            await pool.request("POST", "/", b"{}", {})
        server.close()

    asyncio.run(run())


def test_an_idle_connection_the_server_closed_is_replaced_not_used():
    async def run() -> None:
        connections: list[int] = []
        answers = [_answer(200, {"n": 1}), _answer(200, {"n": 2})]

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(1)
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(2)
            writer.write(answers.pop(0))
            await writer.drain()
            writer.close()  # as a server whose keep-alive ran out, without saying so

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        pool = HttpPool("127.0.0.1", server.sockets[0].getsockname()[1])
        assert await pool.request("POST", "/", b"{}", {}) == (200, b'{"n": 1}')
        await asyncio.sleep(0.05)  # the close reaches the client
        assert await pool.request("POST", "/", b"{}", {}) == (200, b'{"n": 2}')
        await pool.close()
        server.close()

        assert len(connections) == 2

    asyncio.run(run())
