"""Server-rendered exchange pages (markets, trading page, wallet) through Django's test client:
who may see what, and the numbers shown, with the market's and the asset's fixed decimals."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import include, path
from django.utils import timezone

from exchange.models import Deposit, Order, Withdrawal
from exchange.selectors import balances_for_user
from exchange.services.deposits import deposit_credit
from tests.factories.trading import market_get, order_make, trade_make

urlpatterns = [
    path("", include("exchange.api.urls")),
    path("", include("exchange.web.urls")),
    path("", include("accounts.urls")),
]


@pytest.fixture(autouse=True)
def _web_settings(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = __name__
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    settings.DEMO_DEPOSITS_ENABLED = True


def _credit(user, symbol: str, quantity: str) -> None:  # type: ignore[no-untyped-def]
    from exchange.models import Asset

    deposit_credit(
        user_id=user.pk,
        asset=Asset.objects.get(symbol=symbol),
        quantity=Decimal(quantity),
        source="administrator",
    )


def _row(html: str, table_id: str, attribute: str, value: str) -> str:
    """The `<tr {attribute}="{value}">` row inside the table with id `table_id` ('' if absent)."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table #{table_id}"
    row = re.search(rf'<tr[^>]*{attribute}="{re.escape(value)}"[^>]*>.*?</tr>', table.group(0), re.S)
    return row.group(0) if row else ""


def _cell(row: str, css_class: str) -> str:
    match = re.search(rf'<t[dh][^>]*class="[^"]*\b{css_class}\b[^"]*"[^>]*>(.*?)</t[dh]>', row, re.S)
    assert match, f"no .{css_class} cell in {row}"
    return match.group(1).strip()


# --- markets ----------------------------------------------------------------------------------------


def test_markets_page_links_every_visible_market_to_its_trading_page(client, demo_markets):  # type: ignore[no-untyped-def]
    from exchange.models import Market

    html = client.get("/markets/").content.decode()
    symbols = list(Market.objects.filter(visible=True).values_list("symbol", flat=True))
    assert symbols
    for symbol in symbols:
        assert f'href="/trade/{symbol}/"' in html


# --- trading page -----------------------------------------------------------------------------------


def test_trading_page_is_public_and_shows_book_and_trades_with_market_decimals(
    client, demo_markets, alice, bob
):  # type: ignore[no-untyped-def]
    market = market_get("SOL_USDC")  # tick 0.01, step 0.01
    order_make(user=alice, market=market, side="Ask", price="151.5", quantity="2")
    order_make(user=bob, market=market, side="Ask", price="151.5", quantity="0.5")
    order_make(user=bob, market=market, side="Bid", price="149", quantity="3")
    trade_make(
        market=market,
        maker=alice,
        taker=bob,
        taker_side="Bid",
        price="150.1",
        quantity="1",
        at=timezone.now(),
    )

    response = client.get("/trade/SOL_USDC/")

    assert response.status_code == 200
    html = response.content.decode()
    ask = _row(html, "asks", "data-price", "151.50")
    assert _cell(ask, "price") == "151.50"
    assert _cell(ask, "quantity") == "2.50"
    assert _cell(_row(html, "bids", "data-price", "149.00"), "quantity") == "3.00"
    trades = re.search(r'<table[^>]*id="recent-trades".*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    assert re.search(r'data-trade-id="\d+"', trades)
    assert "150.10" in trades
    assert 'id="socket-status"' in html
    assert 'id="price-chart"' in html
    # Anonymous: no order form and no account tables, but a way to log in.
    assert 'id="order-form"' not in html
    assert 'id="balances"' not in html
    assert "/login/" in html


def test_trading_page_shows_only_the_users_own_orders_and_balances(client, demo_markets, alice, mallory):  # type: ignore[no-untyped-def]
    market = market_get("SOL_USDC")
    _credit(alice, "USDC", "1000")
    _credit(mallory, "SOL", "7.25")
    mine = order_make(user=alice, market=market, side="Bid", price="140", quantity="1.5")
    theirs = order_make(user=mallory, market=market, side="Ask", price="160", quantity="4")
    client.force_login(alice)

    html = client.get("/trade/SOL_USDC/").content.decode()

    row = _row(html, "open-orders", "data-order-id", str(mine.pk))
    assert _cell(row, "price") == "140.00"
    assert _cell(row, "quantity") == "1.50"
    assert f'data-cancel="{mine.pk}"' in row
    assert _row(html, "order-history", "data-order-id", str(mine.pk))
    assert not _row(html, "open-orders", "data-order-id", str(theirs.pk))
    assert not _row(html, "order-history", "data-order-id", str(theirs.pk))
    usdc = _row(html, "balances", "data-asset", "USDC")
    assert (_cell(usdc, "available"), _cell(usdc, "locked"), _cell(usdc, "total")) == (
        "1000.000000",
        "0.000000",
        "1000.000000",
    )
    # Mallory's SOL is hers: alice sees her own zero SOL, with SOL's 8 ledger decimals.
    assert _cell(_row(html, "balances", "data-asset", "SOL"), "available") == "0.00000000"
    # The order form carries every hook the browser tests use.
    for hook in (
        'name="side" value="Bid"',
        'name="side" value="Ask"',
        'name="orderType"',
        'name="price"',
        'name="quantity"',
        'name="postOnly"',
        'name="ioc"',
        'id="price-error"',
        'id="quantity-error"',
        'id="order-form-error"',
        'id="order-form-status"',
        'type="submit"',
    ):
        assert hook in html


def test_trading_page_shows_the_users_fills(client, demo_markets, alice, mallory):  # type: ignore[no-untyped-def]
    market = market_get("SOL_USDC")
    fill = trade_make(
        market=market,
        maker=alice,
        taker=mallory,
        taker_side="Bid",
        price="150.25",
        quantity="0.4",
        at=timezone.now(),
    )
    client.force_login(alice)

    html = client.get("/trade/SOL_USDC/").content.decode()

    row = _row(html, "fills", "data-trade-id", str(fill.trade_id))
    assert _cell(row, "price") == "150.25"
    assert _cell(row, "quantity") == "0.40"
    assert f'data-order-id="{fill.maker_order_id}"' in row


def test_unknown_market_is_not_found(client, demo_markets):  # type: ignore[no-untyped-def]
    assert client.get("/trade/NOPE_USDC/").status_code == 404


# --- wallet -----------------------------------------------------------------------------------------


def test_wallet_redirects_anonymous_users(client, db):  # type: ignore[no-untyped-def]
    response = client.get("/wallet/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_wallet_shows_balances_deposit_address_and_deposits(client, demo_markets, alice):  # type: ignore[no-untyped-def]
    _credit(alice, "SOL", "12.5")
    client.force_login(alice)

    html = client.get("/wallet/?token=SOL:Solana").content.decode()

    assert _cell(_row(html, "wallet-balances", "data-asset", "SOL"), "available") == "12.50000000"
    address = alice.deposit_addresses.get(blockchain="Solana").address
    assert f'data-address="{address}"' in html
    deposit = Deposit.objects.get(user=alice)
    assert _cell(_row(html, "deposits", "data-deposit-id", str(deposit.pk)), "quantity") == "12.50000000"


def test_demo_deposit_credits_the_users_own_deposit_address(client, demo_markets, alice):  # type: ignore[no-untyped-def]
    client.force_login(alice)

    response = client.post("/wallet/demo-deposit/", {"token": "USDC:Solana", "quantity": "250"})

    assert response.status_code == 302
    assert balances_for_user(user_id=alice.pk)["USDC"]["available"] == Decimal("250")
    deposit = Deposit.objects.get(user=alice)
    assert deposit.to_address == alice.deposit_addresses.get(blockchain="Solana").address


def test_demo_deposit_is_off_unless_enabled(client, demo_markets, alice, settings):  # type: ignore[no-untyped-def]
    settings.DEMO_DEPOSITS_ENABLED = False
    client.force_login(alice)

    response = client.post("/wallet/demo-deposit/", {"token": "USDC:Solana", "quantity": "250"})

    assert response.status_code == 404
    assert not Deposit.objects.exists()
    assert balances_for_user(user_id=alice.pk) == {}
    assert 'id="demo-deposit-form"' not in client.get("/wallet/").content.decode()


def test_withdraw_form_shows_a_bad_quantity_next_to_its_field_and_changes_nothing(
    client, demo_markets, alice
):  # type: ignore[no-untyped-def]
    _credit(alice, "SOL", "5")
    client.force_login(alice)
    before = balances_for_user(user_id=alice.pk)

    response = client.post(
        "/wallet/",
        {"asset": "SOL", "blockchain": "Solana", "address": "x", "quantity": "lots", "twoFactorToken": ""},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'id="quantity-error">[^<]*number', html)
    assert not Withdrawal.objects.exists()
    assert balances_for_user(user_id=alice.pk) == before


def test_withdraw_form_shows_the_services_refusal_next_to_the_address(client, demo_markets, alice):  # type: ignore[no-untyped-def]
    _credit(alice, "SOL", "5")
    client.force_login(alice)
    before = balances_for_user(user_id=alice.pk)

    response = client.post(
        "/wallet/",
        {"asset": "SOL", "blockchain": "Solana", "address": "not-a-solana-address", "quantity": "1"},
    )

    assert response.status_code == 400
    error = re.search(r'id="address-error">([^<]*)<', response.content.decode())
    assert error
    assert "address" in error.group(1).lower()
    assert not Withdrawal.objects.exists()
    assert balances_for_user(user_id=alice.pk) == before
    assert Order.objects.count() == 0


def test_withdrawal_errors_map_to_their_fields() -> None:
    from core.errors import DomainError, InsufficientFunds, InvalidAsset, InvalidQuantity, InvalidRequest
    from exchange.web.wallet import withdrawal_error_field

    assert withdrawal_error_field(InvalidRequest("wrong", code="INVALID_TWO_FACTOR_CODE")) == "twoFactorToken"
    assert withdrawal_error_field(InvalidRequest("Invalid Solana address: x")) == "address"
    assert withdrawal_error_field(InsufficientFunds("Insufficient available SOL")) == "quantity"
    assert withdrawal_error_field(InvalidQuantity("Below the minimum withdrawal")) == "quantity"
    assert withdrawal_error_field(InvalidAsset("Unknown asset: XYZ")) == "asset"
    assert withdrawal_error_field(InvalidRequest("Unsupported blockchain: Dogecoin")) == "blockchain"
    assert withdrawal_error_field(DomainError("Account is frozen; contact support", code="FORBIDDEN")) is None
    # An address that happens to spell "2fa" is still about the address, not the two-factor code
    # (a base58 address from a browser test's random email did, once).
    waiting = InvalidRequest(
        "Address GQYnuMyb2FargFVWtuWDLszcYkY23Ziu9XV6ws5tJWUE was added to your address book on "
        "2026-11-25 16:02 UTC; for your security it can be used from 2026-11-26 16:02 UTC"
    )
    assert withdrawal_error_field(waiting) == "address"
    assert withdrawal_error_field(InvalidRequest("Invalid Ethereum address: 0xab2fa0")) == "address"
    named = DomainError("Travel-rule details are required")
    named.field = "address"  # type: ignore[attr-defined]
    assert withdrawal_error_field(named) == "address"


def test_wallet_gives_no_deposit_address_or_demo_deposit_below_the_deposit_tier(client, demo_markets, bob):  # type: ignore[no-untyped-def]
    from accounts.kyc_tiers import Product
    from accounts.services.access import access_refusal

    refusal = access_refusal(user=bob, product=Product.DEPOSIT)
    assert refusal  # bob is unverified
    client.force_login(bob)

    html = client.get("/wallet/?token=SOL:Solana").content.decode()
    response = client.post("/wallet/demo-deposit/", {"token": "SOL:Solana", "quantity": "5"})

    assert 'id="deposit-refusal"' in html
    assert 'id="demo-deposit-form"' not in html
    assert response.status_code == 302
    assert not bob.deposit_addresses.exists()
    assert not Deposit.objects.exists()
    assert balances_for_user(user_id=bob.pk) == {}


def test_trading_page_tells_an_unverified_user_to_verify_before_ordering(client, demo_markets, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)  # bob is unverified

    html = client.get("/trade/SOL_USDC/").content.decode()

    assert 'id="trade-refusal"' in html
    assert "Complete basic verification to trade" in html
    assert 'href="/account/verification/"' in html


def test_trading_page_tells_an_eu_resident_perps_are_not_available(client, demo_markets, alice):  # type: ignore[no-untyped-def]
    from accounts.jurisdictions import jurisdiction_cache_clear
    from accounts.models import User
    from accounts.services.kyc_jurisdictions import jurisdiction_seed_defaults

    jurisdiction_seed_defaults()
    jurisdiction_cache_clear()
    User.objects.filter(pk=alice.pk).update(residence_country="FR")
    client.force_login(alice)  # alice has full verification

    perp = client.get("/trade/SOL_USDC_PERP/").content.decode()
    spot = client.get("/trade/SOL_USDC/").content.decode()
    jurisdiction_cache_clear()

    assert "Perpetual futures are not available to residents of France" in perp
    assert 'href="/account/verification/"' not in perp  # verifying more would not help
    assert 'id="trade-refusal"' not in spot


def test_withdraw_form_tells_a_basic_customer_to_complete_full_verification(client, demo_markets, bob):  # type: ignore[no-untyped-def]
    from accounts.models import KycLevel, User

    User.objects.filter(pk=bob.pk).update(kyc_level=KycLevel.BASIC)  # may deposit and trade, not withdraw
    _credit(bob, "SOL", "5")
    client.force_login(bob)
    before = balances_for_user(user_id=bob.pk)

    response = client.post(
        "/wallet/",
        {
            "asset": "SOL",
            "blockchain": "Solana",
            "address": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
            "quantity": "1",
            "twoFactorToken": "123456",
        },
    )

    assert response.status_code == 400
    assert "Complete full verification to withdraw" in response.content.decode()
    assert not Withdrawal.objects.exists()
    assert balances_for_user(user_id=bob.pk) == before
