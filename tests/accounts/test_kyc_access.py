"""The gates (accounts.services.access) in the API and the WebSocket: an unverified customer cannot
trade or get a deposit address, an EU resident cannot trade perpetuals, a blocked country gets no
private stream; each refusal is 403 FORBIDDEN with a message, and nothing changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.kyc_tiers import Product
from accounts.models import User
from accounts.services.access import access_require
from accounts.services.api_keys import api_key_create
from core.errors import Forbidden
from exchange import streams
from exchange.models import DepositAddress, JournalEntry, LedgerAccount, Order
from exchange.services.deposits import deposit_credit
from tests.exchange.test_consumers import connected, drain, request, run, signed
from tests.exchange.test_custody_api import Signer

pytestmark = pytest.mark.usefixtures("jurisdictions")
ORDER = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "10", "quantity": "1"}
PERP_ORDER = {**ORDER, "symbol": "BTC_USDC_PERP"}
ORDER_EVENT = {"e": "orderAccepted", "s": "SOL_USDC", "i": "1"}


def state() -> tuple[object, ...]:
    return (
        dict(LedgerAccount.objects.values_list("pk", "balance")),
        JournalEntry.objects.count(),
        Order.objects.count(),
        DepositAddress.objects.count(),
    )


def resident(user: User, country: str, level: str = "full") -> User:
    User.objects.filter(pk=user.pk).update(residence_country=country, kyc_level=level)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def funded_bob(bob, demo_markets):
    deposit_credit(user_id=bob.pk, asset=demo_markets["USDC"], quantity=Decimal("100"), source="solana")
    return bob


def test_an_unverified_customer_cannot_place_an_order(client, funded_bob):
    before = state()
    response = Signer(client, funded_bob).post("/api/v1/order", "orderExecute", ORDER)
    assert response.status_code == 403
    assert response.json() == {"code": "FORBIDDEN", "message": "Complete basic verification to trade"}
    assert state() == before


def test_an_unverified_customer_gets_no_deposit_address(client, bob, demo_markets):
    before = state()
    response = Signer(client, bob).get(
        "/wapi/v1/capital/deposit/address", "depositAddressQuery", blockchain="Solana"
    )
    assert (response.status_code, response.json()) == (
        403,
        {"code": "FORBIDDEN", "message": "Complete basic verification to deposit"},
    )
    assert state() == before


def test_a_basic_customer_gets_a_deposit_address(client, bob, demo_markets):
    resident(bob, "CH", "basic")
    response = Signer(client, bob).get(
        "/wapi/v1/capital/deposit/address", "depositAddressQuery", blockchain="Solana"
    )
    assert response.status_code == 200
    assert DepositAddress.objects.filter(user=bob).count() == 1


def test_an_eu_resident_cannot_trade_perpetuals_whatever_the_tier(client, funded_bob):
    bob = resident(funded_bob, "FR", "enhanced")
    before = state()
    response = Signer(client, bob).post("/api/v1/order", "orderExecute", PERP_ORDER)
    assert (response.status_code, response.json()) == (
        403,
        {"code": "FORBIDDEN", "message": "Perpetual futures are not available to residents of France"},
    )
    assert state() == before


def test_outside_the_eu_perpetuals_get_past_the_gate_to_the_market_check(client, funded_bob):
    bob = resident(funded_bob, "CH", "full")
    response = Signer(client, bob).post("/api/v1/order", "orderExecute", PERP_ORDER)
    # Past KYC and jurisdiction: refused only because perpetual trading is not open yet.
    assert response.json()["code"] == "INVALID_MARKET"


def test_basic_allows_spot_but_not_derivatives_or_withdrawals(bob):
    bob = resident(bob, "CH", "basic")
    access_require(user=bob, product=Product.TRADE_SPOT)
    access_require(user=bob, product=Product.DEPOSIT)
    with pytest.raises(Forbidden, match="Complete full verification to withdraw"):
        access_require(user=bob, product=Product.WITHDRAW)
    with pytest.raises(Forbidden, match="Complete full verification to trade perpetual futures"):
        access_require(user=bob, product=Product.TRADE_DERIVATIVES)


def test_a_blocked_country_refuses_everything_even_to_a_full_customer(bob):
    bob = resident(bob, "IR", "full")
    for product in Product:
        with pytest.raises(Forbidden, match="Satchel is not available to residents of Iran"):
            access_require(user=bob, product=product)


def test_an_edited_rule_applies_in_this_process_with_an_audit_entry(bob, carol):
    from accounts.jurisdictions import jurisdiction_cache_clear
    from accounts.models import Jurisdiction
    from accounts.services.kyc_jurisdictions import jurisdiction_save
    from compliance.models import AuditEntry

    bob = resident(bob, "CH", "full")
    access_require(user=bob, product=Product.TRADE_DERIVATIVES)
    switzerland = Jurisdiction.objects.get(pk="CH")
    switzerland.derivatives_allowed = False
    jurisdiction_save(jurisdiction=switzerland, actor=carol)
    jurisdiction_cache_clear()  # what the on_commit hook does once the test's transaction would commit
    with pytest.raises(Forbidden, match="Perpetual futures are not available to residents of Switzerland"):
        access_require(user=bob, product=Product.TRADE_DERIVATIVES)
    entry = AuditEntry.objects.get(action="jurisdiction.save")
    assert (entry.actor_id, entry.before["derivatives_allowed"], entry.after["derivatives_allowed"]) == (
        carol.pk,
        True,
        False,
    )


def test_perp_mark_prices_are_refused_to_an_eu_resident_spot_data_is_not(bob, demo_markets):
    from accounts.services.access import stream_refusal
    from exchange.models import Market

    bob = resident(bob, "FR", "full")
    perp, spot = Market.objects.get(symbol="BTC_USDC_PERP"), Market.objects.get(symbol="SOL_USDC")
    refusal = "Perpetual futures are not available to residents of France"
    assert stream_refusal(user=bob, kind="markPrice", is_private=False, market=perp) == refusal
    assert stream_refusal(user=bob, kind="markPrice", is_private=False, market=spot) is None
    assert stream_refusal(user=bob, kind="depth", is_private=False, market=perp) is None
    assert stream_refusal(user=bob, kind="account.orderUpdate", is_private=True) is None


# --- WebSocket ------------------------------------------------------------------------------------------


def _key(user: User) -> tuple[str, str]:
    key, secret = api_key_create(user=user, label="ws")
    return secret, key.public_key


@pytest.mark.django_db(transaction=True)
def test_an_eu_resident_gets_an_error_frame_for_position_updates(layer, demo_markets, jurisdictions, alice):
    alice = resident(alice, "FR", "full")
    key = _key(alice)

    async def scenario() -> None:
        socket = await connected()
        await request(
            socket, "SUBSCRIBE", "account.orderUpdate", "account.positionUpdate", signature=signed(key)
        )
        frames = await drain(socket)
        assert frames == [
            {
                "id": None,
                "error": {
                    "code": 4003,
                    "message": "Perpetual futures are not available to residents of France",
                },
            }
        ]
        # The order stream was subscribed all the same: alice's order events reach her.
        await streams.stream_events_send(
            layer, streams.user_group(alice.pk), [("account.orderUpdate", ORDER_EVENT)], user_id=alice.pk
        )
        assert await drain(socket) == [{"stream": "account.orderUpdate", "data": ORDER_EVENT}]
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_blocked_country_resident_gets_no_private_stream(layer, demo_markets, jurisdictions, alice):
    alice = resident(alice, "KP", "full")
    key = _key(alice)

    async def scenario() -> None:
        socket = await connected()
        await request(socket, "SUBSCRIBE", "account.orderUpdate", signature=signed(key))
        (frame,) = await drain(socket)
        assert frame["error"] == {
            "code": 4003,
            "message": "Satchel is not available to residents of North Korea",
        }
        await socket.disconnect()

    run(scenario)
