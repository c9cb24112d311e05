"""Private streams end with their credentials, and a signed SUBSCRIBE opens them only once.

The consumer in-process against real PostgreSQL and Redis: the signature claims live in Redis, and
the revocation test runs on the production channel layer (Redis pub/sub), so the message sent at
commit travels the way it does in a server. Other tests use the in-memory layer, whose delivery
order the drains rely on.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import ApiKey, User
from accounts.services.api_keys import api_key_revoke
from compliance.models import ComplianceFlag
from compliance.services.freezes import account_freeze
from exchange import stream_auth, streams
from tests.exchange.test_consumers import (
    WebsocketCommunicator,
    _key,
    connected,
    db,
    drain,
    request,
    run,
    signed,
)
from tests.exchange.test_web_socket_session import Socket

ORDER = {"e": "orderAccepted", "s": "ETH_USDC", "i": "1"}
BALANCE = {"e": "balanceUpdate", "a": "USDC", "A": "1", "L": "0", "S": "0"}
PRIVATE = ["account.orderUpdate", "account.balanceUpdate"]
DELIVERED = [
    {"stream": "account.orderUpdate", "data": ORDER},
    {"stream": "account.balanceUpdate", "data": BALANCE},
]
REVOKED = {"id": None, "error": {"code": 4001, "message": "API key revoked"}}
FROZEN = {"id": None, "error": {"code": 4003, "message": "This account is frozen"}}
REPLAYED = {
    "id": None,
    "error": {"code": 4001, "message": "Signature already used; sign each subscribe afresh"},
}


async def publish(layer: Any, user_id: int) -> None:
    await streams.stream_events_send(
        layer,
        streams.user_group(user_id),
        [("account.orderUpdate", ORDER), ("account.balanceUpdate", BALANCE)],
        user_id=user_id,
    )


async def frames_until(socket: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """The next `count` frames, however long the Redis layer takes (within the test's bound)."""
    return [await socket.receive_json_from(timeout=5) for _ in range(count)]


def officer() -> User:
    """carol, with the one permission a freeze needs (the role groups do not survive the flush of
    a transactional test; the permissions are recreated)."""
    user = User.objects.create_user("carol@example.com", "carol-password-1", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="compliance", codename="decide_alert")
    )
    return User.objects.get(pk=user.pk)


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(django_settings.REDIS_URL)


# --- revocation, freeze, logout -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_revoking_a_key_ends_the_private_streams_it_opened_at_once(
    redis_layer, demo_markets, alice, monkeypatch
):
    # No periodic re-check during the test: the message sent at commit is what ends the streams.
    monkeypatch.setattr(stream_auth, "RECHECK_SECONDS", 3600.0)
    revoked_key, other_key = _key(alice), _key(alice)
    revoked_id = ApiKey.objects.get(public_key=revoked_key[1]).pk

    async def scenario() -> None:
        doomed, kept = await connected(), await connected()
        await request(doomed, "SUBSCRIBE", *PRIVATE, signature=signed(revoked_key))
        await request(kept, "SUBSCRIBE", *PRIVATE, signature=signed(other_key))
        assert await drain(doomed) == []
        assert await drain(kept) == []
        await publish(redis_layer, alice.pk)
        assert await frames_until(doomed, 2) == DELIVERED
        assert await frames_until(kept, 2) == DELIVERED

        await db(api_key_revoke, user=alice, api_key_id=revoked_id)
        assert await frames_until(doomed, 1) == [REVOKED]
        await publish(redis_layer, alice.pk)
        assert await frames_until(kept, 2) == DELIVERED  # the other key's socket goes on
        assert await drain(doomed) == []

        # A fresh signature of the revoked key opens nothing; revoking again tells no one twice.
        await request(doomed, "SUBSCRIBE", *PRIVATE, signature=signed(revoked_key))
        assert await drain(doomed) == [{"id": None, "error": {"code": 4001, "message": "Invalid API key"}}]
        await db(api_key_revoke, user=alice, api_key_id=revoked_id)
        await publish(redis_layer, alice.pk)
        assert await frames_until(kept, 2) == DELIVERED
        assert await drain(doomed) == []
        await doomed.disconnect()
        await kept.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_frozen_account_stops_receiving_private_events_and_cannot_resubscribe(
    layer, demo_markets, alice, mallory, monkeypatch
):
    monkeypatch.setattr(stream_auth, "RECHECK_SECONDS", 3600.0)
    alice_key, mallory_key = _key(alice), _key(mallory)
    carol = officer()

    async def scenario() -> None:
        frozen, bystander = await connected(), await connected()
        await request(frozen, "SUBSCRIBE", *PRIVATE, "trade.ETH_USDC", signature=signed(alice_key))
        await request(bystander, "SUBSCRIBE", *PRIVATE, signature=signed(mallory_key))
        assert await drain(frozen) == []
        assert await drain(bystander) == []

        await db(account_freeze, user=alice, officer=carol, reason="court order 12/2025")
        assert await drain(frozen) == [FROZEN]
        assert await drain(bystander) == []
        await publish(layer, alice.pk)
        await publish(layer, mallory.pk)
        assert await drain(frozen) == []
        assert await drain(bystander) == DELIVERED

        # Public streams go on; private ones stay refused while the freeze holds.
        trade = {"e": "trade", "s": "ETH_USDC", "t": 1, "p": "1", "q": "1"}
        await streams.stream_events_send(
            layer, streams.public_group("trade.ETH_USDC"), [("trade.ETH_USDC", trade)]
        )
        assert await drain(frozen) == [{"stream": "trade.ETH_USDC", "data": trade}]
        await request(frozen, "SUBSCRIBE", *PRIVATE, signature=signed(alice_key))
        assert await drain(frozen) == [FROZEN]
        await publish(layer, alice.pk)
        assert await drain(frozen) == []
        await frozen.disconnect()
        await bystander.disconnect()

    run(scenario)
    assert ComplianceFlag.objects.get(user=alice).is_frozen


@pytest.mark.django_db(transaction=True)
def test_a_revocation_whose_message_is_lost_ends_delivery_at_the_next_check(
    layer, demo_markets, alice, monkeypatch
):
    # The message sent at commit never arrives (a Redis blip): the re-check before delivery catches it.
    monkeypatch.setattr(streams, "api_key_revoked_on_commit", lambda *, api_key_id: None)
    monkeypatch.setattr(stream_auth, "RECHECK_SECONDS", 0.0)
    key = _key(alice)
    key_id = ApiKey.objects.get(public_key=key[1]).pk

    async def scenario() -> None:
        socket = await connected()
        await request(socket, "SUBSCRIBE", *PRIVATE, signature=signed(key))
        assert await drain(socket) == []
        await publish(layer, alice.pk)
        assert await drain(socket) == DELIVERED  # re-checked, still valid
        await db(api_key_revoke, user=alice, api_key_id=key_id)
        assert await drain(socket) == []
        await publish(layer, alice.pk)
        assert await drain(socket) == [REVOKED]
        await publish(layer, alice.pk)
        assert await drain(socket) == []
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_logging_out_ends_the_web_pages_private_streams(layer, demo_markets, alice, monkeypatch):
    from django.contrib.sessions.models import Session

    monkeypatch.setattr(stream_auth, "RECHECK_SECONDS", 0.0)
    client = Client()
    client.force_login(alice)
    cookie = str(client.cookies[django_settings.SESSION_COOKIE_NAME].value)

    async def scenario() -> None:
        socket = await Socket(cookie=cookie, origin="http://testserver").open()
        await socket.send_json({"method": "SUBSCRIBE", "params": PRIVATE})
        assert await socket.frames() == []
        await publish(layer, alice.pk)
        assert await socket.frames() == DELIVERED
        await db(client.logout)
        assert not await db(Session.objects.filter(session_key=cookie).exists)
        await publish(layer, alice.pk)
        assert await socket.frames() == [
            {"id": None, "error": {"code": 4001, "message": "Session ended; log in again"}}
        ]
        await publish(layer, alice.pk)
        assert await socket.frames() == []
        await socket.close()

    run(scenario)


# --- replay -----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_signed_subscribe_works_once_and_its_replay_on_another_socket_is_refused(
    layer, demo_markets, alice, monkeypatch
):
    key = _key(alice)
    key_id = ApiKey.objects.get(public_key=key[1]).pk
    claims: list[tuple[str, int, bool]] = []  # what was asked of Redis, and its answer

    def claim_recorded(key: str, *, ttl_ms: int) -> bool:
        claims.append((key, ttl_ms, claimed := real_claim(key, ttl_ms=ttl_ms)))
        return claimed

    real_claim = stream_auth._claim
    monkeypatch.setattr(stream_auth, "_claim", claim_recorded)
    # The wall clock stands still (the server's "now" is exactly the test's), so the claim's life
    # is known to the millisecond; only Redis's own countdown runs, and it is measured.
    with time_machine.travel(time.time(), tick=False) as traveller:
        age_ms = 1_200  # signed 1.2 s ago: valid for 3.8 s more, claimed for 1 s beyond that
        signature = signed(key, age_ms=age_ms)
        claim_ms = 5000 - age_ms + stream_auth.CLAIM_MARGIN_MS

        async def scenario() -> None:
            owner, attacker = await connected(), await connected()
            started = time.monotonic()
            await request(owner, "SUBSCRIBE", "account.orderUpdate", signature=signature)
            # ccxt's watches started in one millisecond send the same signature on one socket.
            await request(owner, "SUBSCRIBE", "account.balanceUpdate", signature=signature)
            assert await drain(owner) == []
            # The claim lasts while the signed text would pass the timestamp check, and then goes:
            # claimed once, for exactly `claim_ms`, and Redis holds it for that long, less what it
            # has counted down since the subscribe was sent (+1 ms of rounding).
            claim = stream_auth.signature_claim_key(api_key_id=key_id, timestamp=signature[2], window="5000")
            assert claims == [(claim, claim_ms, True)]
            remaining_ms = redis_client().pttl(claim)
            elapsed_ms = math.ceil((time.monotonic() - started) * 1000)
            assert claim_ms - elapsed_ms - 1 <= remaining_ms <= claim_ms
            await request(attacker, "SUBSCRIBE", *PRIVATE, signature=signature)
            assert await drain(attacker) == [REPLAYED]
            assert claims[1:] == [(claim, claim_ms, False)]  # refused by Redis, not extended
            await publish(layer, alice.pk)
            assert await drain(owner) == DELIVERED
            assert await drain(attacker) == []
            assert len(layer.groups[streams.api_key_group(key_id)]) == 1  # the owner's socket only

            # A fresh signature from the key's owner works on any socket.
            traveller.shift(0.001)  # a later millisecond: another signed text
            await request(attacker, "SUBSCRIBE", *PRIVATE, signature=signed(key))
            assert await drain(attacker) == []
            await publish(layer, alice.pk)
            assert await drain(attacker) == DELIVERED
            assert len(layer.groups[streams.api_key_group(key_id)]) == 2
            await owner.disconnect()
            await attacker.disconnect()

        run(scenario)


@pytest.mark.django_db(transaction=True)
def test_without_redis_a_signed_subscribe_is_refused_not_crashed(layer, demo_markets, alice, settings):
    key = _key(alice)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    async def scenario() -> None:
        socket = await connected()
        await request(socket, "SUBSCRIBE", *PRIVATE, signature=signed(key))
        assert await drain(socket) == [
            {"id": None, "error": {"code": 4001, "message": "Signatures cannot be checked now; try again"}}
        ]
        await publish(layer, alice.pk)
        assert await drain(socket) == []  # nothing subscribed, and the socket still answers
        assert not [group for group in layer.groups if ".apikey." in group or ".user." in group]
        await socket.disconnect()

    run(scenario)
