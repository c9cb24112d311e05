"""Signed order calls sent through the node's ASGI application (`config.asgi.application`) as
uvicorn sends them, on a serving loop of their own: for the fast-path tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from accounts.services.api_keys import api_key_create
from accounts.signing import sign
from core.asgi_call import asgi_http_call
from exchange.services import done_listener
from exchange.services.deposits import deposit_credit

BID = {"orderType": "Limit", "price": "100", "quantity": "0.5", "side": "Bid", "symbol": "SOL_USDC"}


async def _call(method: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One request through `config.asgi.application`, as uvicorn sends it."""
    from config.asgi import application

    return await asgi_http_call(application, method, "/api/v1/order", body, headers)


class Client:
    def __init__(self, user: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.key, self.secret = api_key_create(user=user)
        self.loop = loop

    def headers(self, instruction: str, body: Any, **changes: str) -> dict[str, str]:
        timestamp = changes.pop("timestamp", str(time.time_ns() // 1_000_000))
        pairs = (
            "&".join(f"{name}={value}" for name, value in sorted(body.items()))
            if isinstance(body, dict)
            else ""
        )
        message = f"instruction={instruction}&{pairs}&timestamp={timestamp}&window=5000"
        return {
            "X-API-Key": self.key.public_key,
            "X-Signature": sign(self.secret, message),
            "X-Timestamp": timestamp,
            "X-Window": "5000",
            "Content-Type": "application/json",
            "Accept": "*/*",
            **changes,
        }

    def send(
        self, method: str, body: Any, *, raw: bytes | None = None, **changes: str
    ) -> tuple[int, dict[str, str], Any]:
        instruction = "orderExecute" if method == "POST" else "orderCancel"
        data = raw if raw is not None else json.dumps(body).encode()
        status, headers, content = self.run(_call(method, data, self.headers(instruction, body, **changes)))
        return status, headers, json.loads(content)

    def run(self, call: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(call, self.loop).result(30)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The serving loop in its own thread, as uvicorn's (the done listener starts on it)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    listener = done_listener._listener
    if listener is not None and listener.loop is loop:
        done_listener._listener = None
        loop.call_soon_threadsafe(listener.stop)
        time.sleep(0.1)  # best effort: the subscription may take longer to close, which is harmless
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def trader(demo_markets, alice, settings, loop) -> Client:  # type: ignore[no-untyped-def]
    settings.ORDER_RESULT_WAIT_SECONDS = 0  # no matching worker here: orders stay as accepted
    deposit_credit(
        user_id=alice.pk, asset=demo_markets["USDC"], quantity=Decimal("1000"), source="administrator"
    )
    return Client(alice, loop)
