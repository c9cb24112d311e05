"""The unmodified ccxt `backpack` client against a live Satchel server (issue 2's acceptance)."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from accounts.signing import generate_keypair

pytestmark = pytest.mark.live


def client(satchel_server, api_key: str | None = None, secret: str | None = None) -> ccxt.backpack:
    config = {"urls": {"api": {"public": satchel_server.url, "private": satchel_server.url}}}
    if api_key:
        config.update(apiKey=api_key, secret=secret)
    return ccxt.backpack(config)


@pytest.fixture(scope="module")
def funded(satchel_server):
    return satchel_server.create_account(
        "ccxt-alice@example.com", "USDC=1234.56", "BTC=0.5", "SOL=12.3456789"
    )


def test_load_markets_lists_every_demo_market_with_its_precision(satchel_server):
    exchange = client(satchel_server)
    markets = exchange.load_markets()
    assert {"BTC/USDC", "ETH/USDC", "SOL/USDC", "BTC/USDC:USDC", "SOL/USDC:USDC"} <= set(markets)
    btc = markets["BTC/USDC"]
    assert (btc["id"], btc["spot"], btc["active"]) == ("BTC_USDC", True, True)
    assert (btc["precision"]["amount"], btc["precision"]["price"]) == (0.00001, 0.1)
    assert btc["limits"]["amount"]["min"] == 0.00001
    perp = markets["SOL/USDC:USDC"]
    assert (perp["id"], perp["swap"], perp["linear"], perp["settle"]) == ("SOL_USDC_PERP", True, True, "USDC")


def test_fetch_currencies_shows_networks_fees_and_minimums(satchel_server):
    currencies = client(satchel_server).fetch_currencies()
    assert {"BTC", "ETH", "SOL", "USDC"} <= set(currencies)
    usdc = currencies["USDC"]
    assert set(usdc["networks"]) == {"SOL", "ERC20"}
    solana = usdc["networks"]["SOL"]
    assert (solana["fee"], solana["limits"]["withdraw"]["min"], solana["limits"]["deposit"]["min"]) == (
        1,
        2,
        1,
    )
    assert (solana["deposit"], solana["withdraw"]) == (True, True)
    assert (usdc["deposit"], usdc["withdraw"]) == (True, True)


def test_fetch_status_is_ok(satchel_server):
    assert client(satchel_server).fetch_status()["status"] == "ok"


def test_fetch_balance_shows_exactly_what_was_deposited(satchel_server, funded):
    exchange = client(satchel_server, funded["api_key"], funded["api_secret"])
    balance = exchange.fetch_balance()
    assert exchange.private_get_api_v1_capital() == {
        "BTC": {"available": "0.5", "locked": "0", "staked": "0"},
        "SOL": {"available": "12.3456789", "locked": "0", "staked": "0"},
        "USDC": {"available": "1234.56", "locked": "0", "staked": "0"},
    }
    assert Decimal(str(balance["USDC"]["free"])) == Decimal("1234.56")
    assert Decimal(str(balance["SOL"]["total"])) == Decimal("12.3456789")
    assert balance["BTC"]["used"] == 0


def test_signature_from_the_wrong_key_is_an_authentication_error(satchel_server, funded):
    _, other_secret = generate_keypair()
    exchange = client(satchel_server, funded["api_key"], other_secret)
    with pytest.raises(ccxt.AuthenticationError, match="Invalid signature"):
        exchange.fetch_balance()


def test_unknown_api_key_is_an_authentication_error(satchel_server):
    stranger_key, stranger_secret = generate_keypair()
    with pytest.raises(ccxt.AuthenticationError, match="Invalid API key"):
        client(satchel_server, stranger_key, stranger_secret).fetch_balance()


@pytest.mark.parametrize("skew_ms", [10 * 60_000, -10 * 60_000])
def test_expired_or_future_timestamp_is_refused(satchel_server, funded, skew_ms):
    exchange = client(satchel_server, funded["api_key"], funded["api_secret"])
    exchange.load_markets()
    # ccxt signs milliseconds() - timeDifference: a positive difference dates the request in the past.
    exchange.options["timeDifference"] = skew_ms
    with pytest.raises(ccxt.BadRequest, match="expired" if skew_ms > 0 else "future"):
        exchange.fetch_balance()


def test_accounts_see_only_their_own_balances(satchel_server, funded):
    other = satchel_server.create_account("ccxt-mallory@example.com", "ETH=3")
    mine = client(satchel_server, funded["api_key"], funded["api_secret"]).private_get_api_v1_capital()
    theirs = client(satchel_server, other["api_key"], other["api_secret"]).private_get_api_v1_capital()
    assert set(theirs) == {"ETH"}
    assert "ETH" not in mine
