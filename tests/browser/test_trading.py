"""The whole retail path in a real browser, against the DOM contract of the trading page:
sign up, turn on 2FA, basic verification, a demo deposit, a limit bid that rests in the book and in
open orders, filled by another account's order placed through the API (ccxt), and the book, fills
and balances updating without a reload; then the web process restarts under the page, which
reconnects and shows what happened meanwhile."""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal
from typing import Any

import ccxt
import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.test_accounts import enable_two_factor, new_email, sign_up

pytestmark = pytest.mark.live

SYMBOL = "SOL_USDC"
CCXT_SYMBOL = "SOL/USDC"
TICK = Decimal("0.01")
QUANTITY = Decimal("2.00")
DEPOSIT = Decimal("1000")
LIVE_WAIT_MS = 15_000  # an update over the socket; a restart's reconnect can take a few backoffs


def api_client(server: Any, account: dict[str, Any]) -> ccxt.backpack:
    client = ccxt.backpack(
        {
            "apiKey": account["api_key"],
            "secret": account["api_secret"],
            "urls": {"api": {"public": server.url, "private": server.url}},
        }
    )
    client.load_markets()
    return client


def price_inside_spread(server: Any) -> Decimal:
    """A price strictly between the book's best bid and ask, whatever other live tests left in the
    book, so a bid there rests on top and an ask at it fills exactly that bid."""
    depth = requests.get(f"{server.url}/api/v1/depth", params={"symbol": SYMBOL}, timeout=10).json()
    best_bid = max((Decimal(p) for p, _ in depth["bids"]), default=Decimal("50"))
    best_ask = min((Decimal(p) for p, _ in depth["asks"]), default=best_bid * 2)
    price = ((best_bid + best_ask) / 2).quantize(TICK)
    assert best_bid < price < best_ask, f"no room between {best_bid} and {best_ask}"
    return price


def complete_basic_verification(page: Page) -> None:
    """The onboarding pages' first step, which unlocks deposits and spot trading."""
    page.goto("/account/verification/")
    page.locator("main").get_by_role("link", name="Start").click()
    page.fill("input[name=legal_name]", "Wilhelmina Testcase")
    page.fill("input[name=birth_date]", "1990-04-12")
    page.select_option("select[name=nationality]", "NL")
    page.select_option("select[name=residence_country]", "NL")
    page.fill("input[name=address_line]", "Keizersgracht 1")
    page.fill("input[name=city]", "Amsterdam")
    page.fill("input[name=postal_code]", "1015 CJ")
    page.select_option("select[name=tax_residence_country]", "NL")
    page.fill("input[name=tax_identification_number]", "123456782")
    page.check("input[name=tax_self_certified]")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator(".messages")).to_contain_text("You can now deposit and trade spot markets")


def demo_deposit(page: Page, asset: str, quantity: Decimal) -> None:
    page.goto("/wallet/")
    option = page.locator("#deposit-token option", has_text=f"{asset} on").first
    page.goto(f"/wallet/?token={option.get_attribute('value')}")
    expect(page.locator("#deposit-address-value")).to_have_attribute("data-asset", asset)
    page.fill("#demo-quantity", str(quantity))
    page.locator("#demo-deposit-form button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text(f"Simulated deposit of {quantity} {asset}")


def amount(text: str) -> Decimal:
    return Decimal(text.split()[0].replace(",", "")) if text.strip() else Decimal(-1)


def expect_balance(page: Page, asset: str, column: str, expected: Decimal) -> None:
    """The balances table's cell equals `expected` as a number (its decimals are the asset's),
    within LIVE_WAIT_MS: it changes only through the socket."""
    cell = page.locator(f"#balances tr[data-asset={asset}] .{column}")
    deadline = time.monotonic() + LIVE_WAIT_MS / 1000
    while True:
        text = cell.inner_text() if cell.count() else ""
        if amount(text) == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{asset} {column} shows {text!r}, expected {expected}")
        page.wait_for_timeout(100)


def book_matches_rest(page: Page, server: Any) -> None:
    """Every level the page shows is the REST book's, at the same size, and no REST level inside
    the shown price range is missing (the page may show fewer levels than REST has)."""
    depth = requests.get(f"{server.url}/api/v1/depth", params={"symbol": SYMBOL}, timeout=10).json()
    for side in ("asks", "bids"):
        rest = {Decimal(p): Decimal(q) for p, q in depth[side]}
        rows = page.locator(f"#{side} tbody tr")
        shown = {}
        for i in range(rows.count()):
            level_price = Decimal(rows.nth(i).get_attribute("data-price").replace(",", ""))
            shown[level_price] = Decimal(rows.nth(i).locator(".quantity").inner_text().replace(",", ""))
        assert all(rest.get(p) == q for p, q in shown.items()), f"{side}: page {shown} vs REST {rest}"
        if shown:
            low, high = min(shown), max(shown)
            assert all(p in shown for p in rest if low <= p <= high), f"{side}: page {shown} vs REST {rest}"


def kill_web(server: Any) -> None:
    web = server.processes["web"]
    os.killpg(web.pid, signal.SIGKILL)
    web.wait(10)


def start_web(server: Any) -> None:
    server.restart("web")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{server.url}/api/v1/ping", timeout=1).text == "pong":
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("the web process did not come back")


def test_trader_sees_their_order_rest_fill_and_settle_live(
    page: Page, page_errors, satchel_server, screenshot
) -> None:
    email = new_email("trader")
    sign_up(page, email)
    enable_two_factor(page)
    complete_basic_verification(page)
    demo_deposit(page, "USDC", DEPOSIT)

    page.goto("/markets/")
    page.locator(f"a[data-trade-link][href$='/trade/{SYMBOL}/']").click()
    page.wait_for_url(f"**/trade/{SYMBOL}/")
    expect(page.locator("#socket-status")).to_have_text("live", timeout=LIVE_WAIT_MS)
    expect_balance(page, "USDC", "available", DEPOSIT)
    page.evaluate("window.satchelNoReload = true")  # gone if anything below reloads the page

    price = price_inside_spread(satchel_server)
    shown_price = f"{price:.2f}"
    form = page.locator("#order-form")
    form.locator("input[name=side][value=Bid]").check()
    form.locator("select[name=orderType]").select_option("Limit")
    form.locator("input[name=price]").fill(str(price))
    form.locator("input[name=quantity]").fill(str(QUANTITY))
    form.locator("button[type=submit]").click()
    expect(page.locator("#order-form-status")).to_contain_text("placed")
    expect(page.locator("#order-form-error")).to_have_text("")

    bid_level = page.locator(f"#bids tr[data-price='{shown_price}']")
    expect(bid_level.locator(".quantity")).to_have_text(f"{QUANTITY:,.2f}", timeout=LIVE_WAIT_MS)
    open_row = page.locator("#open-orders tbody tr[data-order-id]")
    expect(open_row).to_have_count(1, timeout=LIVE_WAIT_MS)
    order_id = open_row.get_attribute("data-order-id")
    expect(open_row.locator("button[data-cancel]")).to_be_visible()
    held = price * QUANTITY
    expect_balance(page, "USDC", "locked", held)

    # Another account sells into the bid through the API.
    seller = satchel_server.create_account(new_email("seller"), "SOL=50", kyc="full")
    api_client(satchel_server, seller).create_order(
        CCXT_SYMBOL, "limit", "sell", float(QUANTITY), float(price)
    )

    expect(bid_level).to_have_count(0, timeout=LIVE_WAIT_MS)
    expect(page.locator(f"#open-orders tr[data-order-id='{order_id}']")).to_have_count(0)
    fill = page.locator(f"#fills tr[data-order-id='{order_id}']")
    expect(fill).to_have_count(1, timeout=LIVE_WAIT_MS)
    expect(fill.locator(".price")).to_have_text(shown_price)
    expect(page.locator("#recent-trades tbody tr").first.locator(".price")).to_have_text(shown_price)
    expect(page.locator(f"#order-history tr[data-order-id='{order_id}']")).to_contain_text("Filled")
    fee = amount(fill.locator(".fee").inner_text())
    expect_balance(page, "SOL", "available", QUANTITY - fee)
    expect_balance(page, "USDC", "available", DEPOSIT - held)
    expect_balance(page, "USDC", "locked", Decimal(0))
    assert page.evaluate("window.satchelNoReload") is True

    # A few resting levels on each side, so the screenshot shows a book.
    buyer = satchel_server.create_account(new_email("buyer"), "USDC=5000", kyc="full")
    for step in range(1, 6):
        api_client(satchel_server, seller).create_order(
            CCXT_SYMBOL, "limit", "sell", 0.5 * step, float(price + TICK * 7 * step)
        )
        api_client(satchel_server, buyer).create_order(
            CCXT_SYMBOL, "limit", "buy", 0.4 * step, float(price - TICK * 6 * step)
        )
    top_ask = page.locator(f"#asks tr[data-price='{price + TICK * 7:.2f}']")
    expect(top_ask.locator(".quantity")).to_have_text("0.50", timeout=LIVE_WAIT_MS)
    expect(page.locator(f"#bids tr[data-price='{price - TICK * 30:.2f}']")).to_have_count(
        1, timeout=LIVE_WAIT_MS
    )
    screenshot(page, "trade")


def test_page_reconnects_and_resyncs_after_the_web_process_restarts(
    page: Page, page_errors, satchel_server
) -> None:
    # While the server is down the browser reports refused connections; those are expected here.
    page_errors.allow(r"WebSocket connection to .* failed")
    # Refused while the web process is down; reset when a request was in flight as it went down.
    page_errors.allow(r"Failed to load resource: net::ERR_CONNECTION_(REFUSED|RESET)")
    page.goto(f"/trade/{SYMBOL}/")
    expect(page.locator("#socket-status")).to_have_text("live", timeout=LIVE_WAIT_MS)
    page.evaluate("window.satchelNoReload = true")

    kill_web(satchel_server)
    try:
        expect(page.locator("#socket-status")).not_to_have_text("live", timeout=LIVE_WAIT_MS)
        assert page.locator("#socket-status").inner_text() in ("reconnecting", "offline")
    finally:
        start_web(satchel_server)

    # Placed as soon as the server is back, whether or not the page has reconnected yet: either the
    # event reaches the new socket or the resync's REST snapshot has the level.
    maker = satchel_server.create_account(new_email("maker"), "SOL=50", kyc="full")
    price = price_inside_spread(satchel_server)
    api_client(satchel_server, maker).create_order(CCXT_SYMBOL, "limit", "sell", 0.5, float(price))
    expect(page.locator("#socket-status")).to_have_text("live", timeout=LIVE_WAIT_MS)
    expect(page.locator(f"#asks tr[data-price='{price:.2f}']")).to_have_count(1, timeout=LIVE_WAIT_MS)
    book_matches_rest(page, satchel_server)
    assert page.evaluate("window.satchelNoReload") is True
