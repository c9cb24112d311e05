"""The withdrawal address book in a real browser: the provider fields follow the ownership choice,
an address added with the two-factor code shows its waiting period, the demo's Satoshi test proves
a self-hosted address, and the wallet's withdrawal form picks entries from the book. Also at phone
width, where the table becomes one card per address."""

from __future__ import annotations

import hashlib
import time

import pytest
from playwright.sync_api import Page, expect

from exchange.chain.addresses import base58_encode
from tests.browser.conftest import log_in
from tests.browser.test_accounts import enable_two_factor, new_email

pytestmark = pytest.mark.live

PHONE = {"width": 390, "height": 844}


def test_add_an_address_prove_control_and_pick_it_for_a_withdrawal(
    page: Page, satchel_server, screenshot, page_errors
) -> None:
    page_errors.allow(r"status of 400")  # the refused withdrawal below is a 400 page
    account = satchel_server.create_account(new_email("book"), "USDC=500", kyc="full")
    log_in(page, account["email"])
    app = enable_two_factor(page)
    wallet_address = base58_encode(hashlib.sha256(account["email"].encode()).digest())

    page.goto("/wallet/")
    page.locator("#address-book-link").click()
    expect(page.locator("#address-book tbody tr[data-address-id]")).to_have_count(0)
    vasp_fields = page.locator("#vasp-fields")
    expect(vasp_fields).to_be_hidden()
    page.get_by_label("Another provider (VASP)").check()
    expect(vasp_fields).to_be_visible()
    page.get_by_label("Self-hosted wallet").check()
    expect(vasp_fields).to_be_hidden()

    page.select_option("#address-blockchain", "Solana")
    page.fill("#address-address", wallet_address)
    page.fill("#address-label", "Hardware wallet")
    # The next time step's code: the one just used to turn 2FA on is spent, and waiting 30 s for
    # a fresh one would only slow the test (django-otp accepts one step of drift).
    page.fill("#address-2fa", app.at(time.time() + 30))
    page.locator("#address-2fa").press("Enter")  # keyboard submit

    row = page.locator("#address-book tr[data-address-id]")
    expect(row).to_have_count(1)
    expect(row.locator(".usable")).to_have_text("usable in 24 h")
    expect(row.locator(".proof")).to_have_text("Not proven")
    screenshot(page, "address-book")

    proof = page.locator("article.proof-item")
    proof.locator("select[name=asset]").select_option("USDC")
    proof.get_by_role("button", name="Start Satoshi test").click()
    expect(page.locator(".proof-quantity")).to_contain_text("USDC")
    expect(row.locator(".proof")).to_have_text("Test pending")
    page.locator(".proof-demo-form button").click()
    expect(page.locator(".messages")).to_contain_text("control of")
    expect(row.locator(".proof")).to_contain_text("Proven")

    page.set_viewport_size(PHONE)
    expect(row.locator("td.address")).to_be_visible()
    screenshot(page, "address-book-phone")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto("/wallet/")
    expect(page.locator("#withdraw-new-address")).to_be_visible()
    page.select_option(
        "#withdraw-entry", label=f"Hardware wallet · Solana · {wallet_address[:17]}… · usable in 24 h"
    )
    expect(page.locator("#withdraw-new-address")).to_be_hidden()
    page.fill("#withdraw-asset", "USDC")
    page.fill("#withdraw-quantity", "10")
    page.fill("#withdraw-2fa", app.now())
    page.locator("#withdraw-form button[type=submit]").click()
    # Still in its waiting period: the refusal says until when, next to the picker.
    expect(page.locator("#entry-error")).to_contain_text("for your security it can be used from")
    expect(page.locator("#withdrawals tbody tr[data-withdrawal-id]")).to_have_count(0)
    page.set_viewport_size(PHONE)
    screenshot(page, "wallet-address-picker-phone")
