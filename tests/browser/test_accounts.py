"""Account pages in a real browser: sign-up, 2FA set-up and login with a code, API keys (the secret
shown once works for signed requests until revoked), field errors next to their field."""

from __future__ import annotations

import itertools
import time
from typing import Any

import ccxt
import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, log_in

pytestmark = pytest.mark.live

_emails = itertools.count()


def new_email(prefix: str) -> str:
    # The live server's database lives for the whole session: every test signs up afresh.
    return f"{prefix}{next(_emails)}-{time.time_ns()}@browser.test"


def sign_up(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.fill("input[name=password_confirm]", password)
    page.click("main form button[type=submit]")
    expect(page.locator("main")).to_contain_text(f"Signed in as {email}")


def enable_two_factor(page: Page) -> pyotp.TOTP:
    """From the security page, as a person with an authenticator app would; returns the app."""
    page.goto("/account/security/")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    app = pyotp.TOTP(secret)
    page.fill("input[name=token]", app.now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("#twofa-heading + p .badge")).to_have_text("On")
    return app


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_sign_up_enable_2fa_and_log_in_with_a_code(page: Page, screenshot) -> None:
    email = new_email("twofa")
    sign_up(page, email)
    app = enable_two_factor(page)
    screenshot(page, "security")
    log_out(page)

    page.goto("/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/login/2fa/")
    # A wrong code is refused next to the field, and nobody is logged in.
    page.fill("input[name=token]", "000000" if app.now() != "000000" else "111111")
    page.click("main form button[type=submit]")
    expect(page.locator(".field-error")).to_contain_text("Invalid two-factor code")
    time.sleep(1.1)  # django-otp throttles the next attempt for a second after a failure
    # The code just used to turn 2FA on may not be replayed: the app's next code is accepted.
    page.fill("input[name=token]", app.at(time.time() + app.interval))
    page.click("main form button[type=submit]")
    expect(page.locator("main")).to_contain_text(f"Signed in as {email}")
    expect(page.locator("main .badge-ok")).to_have_text("On")


def test_sign_up_errors_appear_next_to_their_field(page: Page) -> None:
    email = new_email("typo")
    page.goto("/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_confirm]", PASSWORD + "x")
    page.click("main form button[type=submit]")
    confirm_field = page.locator(".field", has=page.locator("input[name=password_confirm]"))
    expect(confirm_field).to_contain_text("The two passwords do not match")
    expect(page.locator(".field", has=page.locator("input[name=email]"))).not_to_have_class(
        "field field-error"
    )
    # Nothing was created: the address is still free.
    sign_up(page, email)


def _balances(server: Any, api_key: str, secret: str) -> dict[str, Any]:
    client = ccxt.backpack(
        {"apiKey": api_key, "secret": secret, "urls": {"api": {"public": server.url, "private": server.url}}}
    )
    return client.fetch_balance()


def test_api_key_secret_is_shown_once_and_stops_working_when_revoked(page: Page, satchel_server) -> None:
    account = satchel_server.create_account(new_email("keys"), "USDC=250", api_key=False)
    log_in(page, account["email"])
    page.goto("/account/security/")
    page.fill("#id_create_label", "browser bot")
    page.get_by_role("button", name="Create API key").click()
    public_key = page.locator("#api-key-public").inner_text()
    secret = page.locator("#api-key-secret").inner_text()
    assert _balances(satchel_server, public_key, secret)["USDC"]["free"] == 250

    page.get_by_role("link", name="I have saved the secret").click()
    row = page.locator("tr", has_text=public_key)
    expect(row).to_contain_text("browser bot")
    expect(page.locator("main")).not_to_contain_text(secret)
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".messages")).to_contain_text(f"API key {public_key} revoked")
    expect(page.locator("tr", has_text=public_key)).to_contain_text("Revoked")
    with pytest.raises(ccxt.AuthenticationError):
        _balances(satchel_server, public_key, secret)


def test_pages_that_need_an_account_send_visitors_to_log_in(page: Page) -> None:
    for path in ("/wallet/", "/account/security/"):
        page.goto(path)
        page.wait_for_url(lambda url, path=path: "/login/?next=" in url and path in url)
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
