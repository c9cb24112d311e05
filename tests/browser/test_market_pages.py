"""Public and wallet pages in a real browser: the markets list and a funded account's wallet."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.browser.test_accounts import new_email

pytestmark = pytest.mark.live


def test_markets_list_every_visible_market_with_24h_stats(page: Page, screenshot) -> None:
    page.goto("/markets/")
    table = page.locator("main table")
    for symbol in ("BTC_USDC", "ETH_USDC", "SOL_USDC", "BTC_USDC_PERP"):
        expect(table.get_by_role("rowheader", name=symbol, exact=True)).to_have_count(1)
    screenshot(page, "markets")


def test_wallet_shows_the_accounts_own_balances(page: Page, satchel_server, screenshot) -> None:
    account = satchel_server.create_account(new_email("wallet"), "USDC=1234.5", "SOL=7", kyc="basic")
    satchel_server.create_account(new_email("other"), "BTC=3", kyc="basic")
    log_in(page, account["email"])
    page.goto("/wallet/")
    rows = page.locator("#wallet-balances tbody tr[data-asset]")
    expect(rows).to_have_count(2)
    usdc = page.locator("#wallet-balances tr[data-asset=USDC]")
    expect(usdc.locator(".available")).to_contain_text("1,234.5")
    expect(usdc.locator(".locked")).to_have_text(re.compile(r"^0(\.0+)?$"))
    expect(page.locator("#wallet-balances tr[data-asset=SOL] .available")).to_contain_text("7")
    expect(page.locator("#wallet-balances tr[data-asset=BTC]")).to_have_count(0)
    screenshot(page, "wallet")
