"""The compliance officer's day in a real browser (issue 5): a customer onboards through the
verification pages; officers log in with a password and an authenticator code, see the work queues,
review and approve the KYC case, and give the two approvals a withdrawal above the four-eyes
threshold needs; a support agent is refused and an officer cannot approve twice; the customer sees
their new tier and the withdrawal leave `held` and reach the chain.

Staff accounts and the customer's usable address-book entry are made with `manage.py shell`, as
nothing else can make them (see `make_staff` and `add_vasp_address`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from base64 import b32encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Page, expect

from exchange.chain.addresses import base58_encode
from tests.browser.conftest import PASSWORD
from tests.browser.test_accounts import enable_two_factor, log_out, new_email, sign_up
from tests.browser.test_trading import complete_basic_verification, demo_deposit

pytestmark = pytest.mark.live

LEGAL_NAME = "Wilhelmina Testcase"  # what complete_basic_verification declares
# 12,000 USDC is 11,111.12 EUR at the default EUR/USD rate of 1.08: above the default four-eyes
# threshold of 10,000 EUR and within the full tier's 50,000 EUR a day. The fee (1 USDC) is on top.
WITHDRAWAL = Decimal("12000")
DEPOSIT = Decimal("12500")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HELD = "Held for four-eyes approval"
CONFIRMED = "Confirmed on chain"
PIPELINE_WAIT_S = 30  # the worker takes a withdrawal from requested to confirmed in well under this


@dataclass
class Authenticator:
    """A person's authenticator app. The server accepts each time step's code once, one step
    either side of now, so every code handed out is for a step after the last one used."""

    totp: pyotp.TOTP
    last_step: int = -1

    def step_now(self) -> int:
        return int(time.time()) // self.totp.interval

    def code(self) -> str:
        step = max(self.step_now(), self.last_step + 1)
        while step > self.step_now() + 1:
            time.sleep(0.5)
        self.last_step = step
        return self.totp.at(step * self.totp.interval)


def make_staff(server: Any, role: str) -> tuple[str, Authenticator]:
    """A staff member of `role` with a confirmed authenticator, as an administrator would set one
    up. The account comes from `create_account`; no command gives staff status, a group or a device,
    so the shell does."""
    email = new_email(role.replace(" ", "-"))
    server.create_account(email, kyc="none", api_key=False)
    key = secrets.token_bytes(20)
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import Group\n"
        "from django_otp.plugins.otp_totp.models import TOTPDevice\n"
        "from accounts.models import User\n"
        f"user = User.objects.get(email={email!r})\n"
        "User.objects.filter(pk=user.pk).update(is_staff=True)\n"
        f"user.groups.add(Group.objects.get(name={role!r}))\n"
        f"TOTPDevice.objects.create(user=user, name='Authenticator app', key={key.hex()!r}, confirmed=True)\n",
    )
    return email, Authenticator(pyotp.TOTP(b32encode(key).decode()))


def add_vasp_address(server: Any, email: str) -> str:
    """An address at another provider in the customer's address book, usable at once. The book's
    24-hour waiting period is a setting no environment variable reaches (so the address-book page
    cannot make an entry usable within a test): the shell calls the service with the period set to
    zero for itself only."""
    address = base58_encode(hashlib.sha256(f"{email} at another exchange".encode()).digest())
    server.manage(
        "shell",
        "-c",
        "from datetime import timedelta\n"
        "from django.conf import settings\n"
        "from django.db import transaction\n"
        "from accounts.models import User\n"
        "from exchange.services.withdrawal_addresses import withdrawal_address_add\n"
        "settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = timedelta(0)\n"
        "with transaction.atomic(durable=True):\n"
        f"    withdrawal_address_add(user=User.objects.get(email={email!r}), blockchain='Solana',\n"
        f"        address={address!r}, ownership='vasp', vasp_name='Example Exchange',\n"
        f"        beneficiary_name={LEGAL_NAME!r}, label='my account at Example Exchange')\n",
    )
    return address


def log_in_with_code(page: Page, email: str, app: Authenticator) -> None:
    """The login form, then the code step (the page must show the login form)."""
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/login/2fa/")
    page.fill("input[name=token]", app.code())
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def staff_log_in(page: Page, email: str, app: Authenticator) -> None:
    """Open the back office: the site sends a visitor to the one login, password then code."""
    page.goto("/admin/")
    page.wait_for_url(re.compile(r"/login/\?next=%2Fadmin%2F$"))
    log_in_with_code(page, email, app)
    page.wait_for_url("**/admin/")
    expect(page.locator("#work-queues caption")).to_have_text("Work queues")


def queue_count(page: Page, label: str) -> int:
    page.goto("/admin/")
    return int(page.locator("#work-queues tr", has_text=label).locator(".queue-count").inner_text())


def upload_documents(page: Page) -> None:
    page.goto("/account/verification/documents/")
    page.select_option("select[name=identity-document_type]", "passport")
    page.fill("input[name=identity-number]", "NX1234567")
    page.select_option("select[name=identity-issuing_country]", "NL")
    page.fill(
        "input[name=identity-expiry_date]", (datetime.now(UTC).date() + timedelta(days=5 * 365)).isoformat()
    )
    page.set_input_files(
        "input[name=identity-file]", {"name": "passport.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.get_by_role("button", name="Upload identity document").click()
    expect(page.locator(".messages")).to_contain_text("Document received.")
    page.goto("/account/verification/documents/")
    page.select_option("select[name=address-document_type]", "utility_bill")
    page.set_input_files(
        "input[name=address-file]", {"name": "bill.png", "mimeType": "image/png", "buffer": PNG}
    )
    page.get_by_role("button", name="Upload proof of address").click()
    expect(page.locator(".messages")).to_contain_text("Document received.")


def request_withdrawal(page: Page, address: str, app: Authenticator) -> int:
    page.goto("/wallet/")
    page.fill("#withdraw-asset", "USDC")
    page.fill("#withdraw-blockchain", "Solana")
    page.fill("#withdraw-address", address)
    page.fill("#withdraw-quantity", str(WITHDRAWAL))
    page.fill("#withdraw-2fa", app.code())
    page.get_by_role("button", name="Request withdrawal").click()
    message = page.locator(".messages")
    expect(message).to_contain_text(f"of {WITHDRAWAL} USDC requested")
    found = re.search(r"Withdrawal (\d+) of", message.inner_text())
    assert found is not None
    return int(found.group(1))


def wait_for_withdrawal_status(page: Page, withdrawal_id: int, label: str) -> None:
    """Open the wallet once; the page itself must show the worker's progress, without a reload."""
    if urlsplit(page.url).path != "/wallet/":
        page.goto("/wallet/")
    status = page.locator(f"#withdrawals tr[data-withdrawal-id='{withdrawal_id}'] .status")
    # A reason may follow the label.
    expect(status).to_have_text(re.compile(f"^{re.escape(label)}"), timeout=PIPELINE_WAIT_S * 1000)


def approve_withdrawal(page: Page, customer_email: str) -> None:
    """Select the customer's held withdrawal from the queue and run the approval action."""
    page.goto("/admin/")
    page.locator("#work-queues").get_by_role("link", name="Withdrawals awaiting approval").click()
    row = page.locator("#result_list tbody tr", has_text=customer_email)
    expect(row).to_have_count(1)
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "approve_selected")
    page.get_by_title("Run the selected action").click()


def test_officers_approve_kyc_and_a_held_withdrawal_and_the_customer_sees_it(
    page: Page, new_page: Callable[[], Page], satchel_server: Any, screenshot: Any
) -> None:
    # The customer onboards: sign-up, an authenticator, personal data, both documents.
    customer_email = new_email("customer")
    sign_up(page, customer_email)
    customer_app = Authenticator(enable_two_factor(page))
    customer_app.last_step = customer_app.step_now()  # the code that turned 2FA on is spent
    complete_basic_verification(page)
    upload_documents(page)
    page.goto("/account/verification/")
    expect(page.locator(".kyc-banner")).to_contain_text("Verification: Basic")
    expect(page.locator(".kyc-banner")).to_contain_text("Your verification is being reviewed")

    first_email, first_app = make_staff(satchel_server, "compliance officer")
    second_email, second_app = make_staff(satchel_server, "compliance officer")
    support_email, support_app = make_staff(satchel_server, "support agent")

    # A support agent reads the case but may not decide it: no form, and a forged POST is refused.
    support = new_page()
    staff_log_in(support, support_email, support_app)
    support.locator("#work-queues").get_by_role("link", name="KYC cases to review").click()
    support.locator("#result_list tbody tr", has_text=customer_email).locator("th a").click()
    case_url = support.url
    expect(support.locator("#case-status")).to_have_text("Pending review")
    expect(support.get_by_role("button", name="Record decision")).to_have_count(0)
    csrf = next(c["value"] for c in support.context.cookies() if c["name"] == "csrftoken")
    forged = support.request.post(
        case_url, form={"csrfmiddlewaretoken": csrf, "decision": "approve", "reason": "looks fine"}
    )
    assert forged.status == 403
    support.reload()
    expect(support.locator("#case-status")).to_have_text("Pending review")

    # The first officer: password and code, the queues, the case, the approval.
    officer = new_page()
    staff_log_in(officer, first_email, first_app)
    kyc_waiting = queue_count(officer, "KYC cases to review")
    assert kyc_waiting >= 1
    officer.locator("#work-queues").get_by_role("link", name="KYC cases to review").click()
    officer.locator("#result_list tbody tr", has_text=customer_email).locator("th a").click()
    assert officer.url == case_url
    expect(officer.locator("#case-status")).to_have_text("Pending review")
    expect(officer.locator("#content")).to_contain_text(LEGAL_NAME)
    expect(officer.locator("#documents tbody tr")).to_have_count(2)
    expect(officer.locator("#risk")).to_contain_text("Score")
    screenshot(officer, "officer-kyc-case")
    officer.get_by_label("Approve").check()
    officer.fill("textarea[name=reason]", "Passport and utility bill match the declaration")
    officer.get_by_role("button", name="Record decision").click()
    expect(officer.locator(".messagelist")).to_contain_text("decision recorded")
    assert queue_count(officer, "KYC cases to review") == kyc_waiting - 1

    # The customer is fully verified now, funds the account and withdraws above the threshold.
    page.goto("/account/verification/")
    expect(page.locator(".kyc-banner h2")).to_have_text("Verification: Full")
    expect(page.locator(".kyc-banner")).to_contain_text("withdraw")
    demo_deposit(page, "USDC", DEPOSIT)
    address = add_vasp_address(satchel_server, customer_email)
    withdrawal_id = request_withdrawal(page, address, customer_app)
    wait_for_withdrawal_status(page, withdrawal_id, HELD)

    # First approval; the same officer cannot give the second.
    held_waiting = queue_count(officer, "Withdrawals awaiting approval")
    assert held_waiting >= 1
    approve_withdrawal(officer, customer_email)
    expect(officer.locator(".messagelist")).to_contain_text("1 withdrawal(s) decided.")
    row = officer.locator("#result_list tbody tr", has_text=customer_email)
    expect(row.locator(".field-status")).to_have_text(HELD)
    expect(row.locator(".field-first_approved_by")).to_have_text(first_email)
    approve_withdrawal(officer, customer_email)
    expect(officer.locator(".messagelist")).to_contain_text(
        f"#{withdrawal_id}: A second, different officer must give the second approval"
    )
    expect(row.locator(".field-status")).to_have_text(HELD)
    expect(row.locator(".field-second_approved_by")).to_have_text("-")

    # Support is not offered the approval at all.
    support.goto("/admin/exchange/withdrawal/?status__exact=held")
    expect(support.locator("#result_list tbody tr", has_text=customer_email)).to_have_count(1)
    expect(support.locator("select[name=action] option[value=approve_selected]")).to_have_count(0)

    # The second officer's approval sends it on to the chain.
    second = new_page()
    staff_log_in(second, second_email, second_app)
    assert queue_count(second, "Withdrawals awaiting approval") == held_waiting
    screenshot(second, "officer-admin-queues")
    approve_withdrawal(second, customer_email)
    expect(second.locator(".messagelist")).to_contain_text("1 withdrawal(s) decided.")
    assert queue_count(second, "Withdrawals awaiting approval") == held_waiting - 1

    # The customer's page in the back office puts it all together.
    second.goto(f"/admin/exchange/withdrawal/?q={customer_email}")
    second.locator("#result_list tbody tr", has_text=customer_email).get_by_role(
        "link", name=customer_email
    ).click()
    expect(second.locator("#content")).to_contain_text(LEGAL_NAME)
    expect(second.locator("tr", has=second.locator("th", has_text="KYC level")).locator("td")).to_have_text(
        "Full"
    )
    expect(second.locator("#transfers")).to_contain_text(f"Withdrawal #{withdrawal_id}")
    screenshot(second, "officer-customer-page")

    # The customer logs in again and sees the new tier and the withdrawal gone out: 12,500 USDC
    # deposited, 12,000 sent and a fee of 1.
    log_out(page)
    page.goto("/login/")
    log_in_with_code(page, customer_email, customer_app)
    expect(page.locator(".kyc-banner h2")).to_have_text("Verification: Full")
    wait_for_withdrawal_status(page, withdrawal_id, CONFIRMED)
    usdc = page.locator("#wallet-balances tr[data-asset=USDC]")
    expect(usdc.locator(".available")).to_have_text(re.compile(r"^499(\.0+)?$"))
    expect(usdc.locator(".locked")).to_have_text(re.compile(r"^0(\.0+)?$"))
    screenshot(page, "customer-withdrawal-confirmed")
