"""One HTTP request sent to an ASGI application in process, as uvicorn sends it.

For the tests and `bench/api/inprocess.py`, which need the node's own application
(`config.asgi.application`, with its event-loop routes) rather than Django's test client: one
scope, the whole body in one message, then a `receive` that waits for a disconnect that never
comes (as a connection kept open does).
"""

from __future__ import annotations

import asyncio
from typing import Any


async def asgi_http_call(
    application: Any, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """(status, response headers with lower-case names, body). `Host` and `Content-Length` are
    added; every other request header comes from `headers`."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await never.wait()
        return {"type": "http.disconnect"}

    answer: dict[str, Any] = {"body": b"", "headers": {}}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {name.decode().lower(): value.decode() for name, value in message["headers"]}
        else:
            answer["body"] += message.get("body", b"")

    await application(scope, receive, send)
    return answer["status"], answer["headers"], answer["body"]
