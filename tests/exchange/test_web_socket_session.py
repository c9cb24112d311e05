"""The web UI's WebSocket: private streams by login session, only from this site's own pages.

Runs the real ASGI stack (`config.asgi.application`: cookie middleware, router, consumer) on an
in-memory channel layer. The signed path is tests/exchange/test_consumers.py and, with a real
client over a real socket, tests/api/test_ccxtpro_streams.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.test import Client

from exchange import consumers, streams

HOST = "testserver"
ORDER = {"e": "orderAccepted", "s": "SOL_USDC", "i": "1"}
BALANCE = {"e": "balanceUpdate", "a": "USDC", "A": "1", "L": "0", "S": "0"}
PRIVATE = ["account.orderUpdate.SOL_USDC", "account.balanceUpdate"]


@pytest.fixture
def layer(settings, monkeypatch):  # type: ignore[no-untyped-def]
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr(consumers, "_markets", (0.0, {}))
    return get_channel_layer()


def session_key(user) -> str:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return str(client.cookies[django_settings.SESSION_COOKIE_NAME].value)


class Socket(ApplicationCommunicator):
    def __init__(self, *, cookie: str | None, origin: str | None, host: str = HOST) -> None:
        from config.asgi import application

        headers = [(b"host", host.encode())]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if cookie is not None:
            headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        scope = {
            "type": "websocket",
            "path": "/",
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def open(self) -> Socket:
        await self.send_input({"type": "websocket.connect"})
        assert (await self.receive_output(1))["type"] == "websocket.accept"
        return self

    async def send_json(self, data: object) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def frames(self) -> list[dict[str, Any]]:
        """Every frame before the answer to a PING sent once pending messages are in."""
        await asyncio.sleep(0.05)
        await self.send_json({"method": "PING", "id": 99})
        frames = []
        while True:
            output = await self.receive_output(2)
            frame = json.loads(output["text"])
            if frame == {"id": 99, "result": "PONG"}:
                return frames
            frames.append(frame)

    async def close(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(1)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 20)

    async_to_sync(bounded)()


async def publish(layer: Any, user_id: int) -> None:
    await streams.stream_events_send(
        layer,
        streams.user_group(user_id),
        [("account.orderUpdate", ORDER), ("account.balanceUpdate", BALANCE)],
        user_id=user_id,
    )


def error_codes(frames: list[dict[str, Any]]) -> list[int]:
    return [frame["error"]["code"] for frame in frames if "error" in frame]


@pytest.mark.django_db(transaction=True)
def test_a_logged_in_page_gets_its_own_account_events_and_no_one_elses(layer, demo_markets, alice, mallory):  # type: ignore[no-untyped-def]
    cookie = session_key(alice)

    async def scenario() -> None:
        socket = await Socket(cookie=cookie, origin=f"http://{HOST}").open()
        await socket.send_json({"method": "SUBSCRIBE", "params": PRIVATE})
        assert await socket.frames() == []
        await publish(layer, mallory.pk)
        await publish(layer, alice.pk)
        assert await socket.frames() == [
            {"stream": "account.orderUpdate.SOL_USDC", "data": ORDER},
            {"stream": "account.balanceUpdate", "data": BALANCE},
        ]
        await socket.close()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_without_a_session_private_streams_are_refused(layer, demo_markets, alice):  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        socket = await Socket(cookie=None, origin=f"http://{HOST}").open()
        await socket.send_json({"method": "SUBSCRIBE", "params": PRIVATE})
        assert error_codes(await socket.frames()) == [consumers.INVALID_SIGNATURE]
        await publish(layer, alice.pk)
        assert await socket.frames() == []
        await socket.close()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_forged_or_ended_session_is_refused(layer, demo_markets, alice):  # type: ignore[no-untyped-def]
    from django.contrib.sessions.models import Session

    cookie = session_key(alice)
    Session.objects.filter(session_key=cookie).delete()  # logged out (or expired) since

    async def scenario() -> None:
        for key in (cookie, "forged-session-key"):
            socket = await Socket(cookie=key, origin=f"http://{HOST}").open()
            await socket.send_json({"method": "SUBSCRIBE", "params": PRIVATE})
            assert error_codes(await socket.frames()) == [consumers.INVALID_SIGNATURE]
            await publish(layer, alice.pk)
            assert await socket.frames() == []
            await socket.close()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", ["http://evil.example", f"http://{HOST}.evil.example", "null", None])
def test_a_cross_site_page_cannot_use_the_visitors_session(layer, demo_markets, alice, origin):  # type: ignore[no-untyped-def]
    """Cross-site WebSocket hijacking: the browser sends the cookie, the Origin gives it away."""
    cookie = session_key(alice)

    async def scenario() -> None:
        socket = await Socket(cookie=cookie, origin=origin).open()
        await socket.send_json({"method": "SUBSCRIBE", "params": PRIVATE})
        assert error_codes(await socket.frames()) == [consumers.INVALID_SIGNATURE]
        await publish(layer, alice.pk)
        assert await socket.frames() == []
        # Public streams stay open to any page.
        await socket.send_json({"method": "SUBSCRIBE", "params": ["trade.SOL_USDC"]})
        assert error_codes(await socket.frames()) == []
        await socket.close()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_trusted_origin_may_use_the_session(layer, demo_markets, alice, settings):  # type: ignore[no-untyped-def]
    """Behind a proxy the Host can differ from the page's origin: CSRF_TRUSTED_ORIGINS names it."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://exchange.example"]
    cookie = session_key(alice)

    async def scenario() -> None:
        socket = await Socket(cookie=cookie, origin="https://exchange.example", host="internal:8000").open()
        await socket.send_json({"method": "SUBSCRIBE", "params": ["account.balanceUpdate"]})
        assert await socket.frames() == []
        await publish(layer, alice.pk)
        assert await socket.frames() == [{"stream": "account.balanceUpdate", "data": BALANCE}]
        await socket.close()

    run(scenario)


def test_origin_check_needs_the_sites_own_host(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALLOWED_HOSTS = ["exchange.example"]
    settings.CSRF_TRUSTED_ORIGINS = []

    def allowed(origin: str, host: str) -> bool:
        return consumers._origin_allowed([(b"origin", origin.encode()), (b"host", host.encode())])

    assert allowed("https://exchange.example", "exchange.example")
    assert not allowed("https://exchange.example", "other.example")  # Host not allowed
    assert not allowed("https://evil.example", "exchange.example")
    assert not allowed("ftp://exchange.example", "exchange.example")
    assert not consumers._origin_allowed([(b"host", b"exchange.example")])  # no Origin: not a page of ours
