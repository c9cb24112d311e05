"""The withdrawal address book in the web UI, through Django's test client: who may see and change
which entries, adding with the two-factor code, the waiting period as the page shows it, the
Satoshi test with the demo's simulated transfer, and the withdrawal form's address picker.

Every refusal asserts that the address book (and balances, withdrawals) did not change.
"""

from __future__ import annotations

import hashlib
import html as html_text
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import include, path
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import AuditEntry
from exchange.chain.addresses import base58_encode
from exchange.models import WalletOwnership, Withdrawal, WithdrawalAddress, WithdrawalStatus
from exchange.selectors import balances_for_user
from exchange.services.deposits import deposit_credit
from exchange.services.withdrawal_addresses import withdrawal_address_add
from exchange.services.withdrawals import withdrawal_approve, withdrawal_request

urlpatterns = [
    path("", include("exchange.web.urls")),
    path("", include("accounts.urls")),
]

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
OWN_WALLET = base58_encode(hashlib.sha256(b"alice's hardware wallet").digest())
FRIEND_AT_VASP = base58_encode(hashlib.sha256(b"a friend's account at another exchange").digest())
MALLORY_WALLET = base58_encode(hashlib.sha256(b"mallory's wallet").digest())
BOOK = "/wallet/addresses/"


@pytest.fixture(autouse=True)
def _web_settings(settings):  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = __name__
    settings.DEMO_DEPOSITS_ENABLED = True
    settings.VALUATION_EUR_USD_RATE = "1"
    settings.WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR = "10000"


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice_2fa(demo_markets, alice, clock):  # type: ignore[no-untyped-def]
    """alice (full KYC) with an authenticator app and 500 USDC."""
    TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)
    deposit_credit(user_id=alice.pk, asset=demo_markets["USDC"], quantity=Decimal("500"), source="solana")
    return alice


def fresh_code(user) -> str:  # type: ignore[no-untyped-def]
    """A current code; time stands still here and a code is accepted once per 30-second step."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    return f"{totp(device.bin_key):06d}"


def wrong_code(user) -> str:  # type: ignore[no-untyped-def]
    return f"{(int(fresh_code(user)) + 1) % 1_000_000:06d}"


def book(user) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    """The user's address book as rows: what a negative test compares before and after."""
    return list(
        WithdrawalAddress.objects.filter(user=user)
        .order_by("pk")
        .values_list("pk", "blockchain", "address", "ownership", "usable_from", "proof_quantity")
    )


def entry(user, address: str = OWN_WALLET, **fields: object) -> WithdrawalAddress:  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "user": user,
        "blockchain": "Solana",
        "address": address,
        "ownership": WalletOwnership.SELF_HOSTED,
    }
    arguments.update(fields)
    return withdrawal_address_add(**arguments)  # type: ignore[arg-type]


def row(html: str, entry_id: int) -> str:
    table = re.search(r'<table[^>]*id="address-book".*?</table>', html, re.S)
    assert table, "no #address-book table"
    found = re.search(rf'<tr[^>]*data-address-id="{entry_id}"[^>]*>.*?</tr>', table.group(0), re.S)
    return found.group(0) if found else ""


def cell(row_html: str, css_class: str) -> str:
    found = re.search(rf'<td[^>]*class="{css_class}"[^>]*>(.*?)</td>', row_html, re.S)
    assert found, f"no .{css_class} cell"
    return html_text.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def field_error(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert found, f"no #{field}-error"
    return html_text.unescape(found.group(1)).strip()


def add_form(user, **overrides: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    data = {
        "blockchain": "Solana",
        "asset": "",
        "address": OWN_WALLET,
        "label": "Hardware wallet",
        "ownership": "self_hosted",
        "vasp_name": "",
        "vasp_lei": "",
        "beneficiary_name": "",
    }
    data.update(overrides)
    if "twoFactorToken" not in overrides:
        data["twoFactorToken"] = fresh_code(user)
    return data


# --- who may see and change what --------------------------------------------------------------


def test_address_book_pages_require_login(client, alice_2fa):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa)
    before = book(alice_2fa)

    responses = [
        client.get(BOOK),
        client.post(BOOK, add_form(alice_2fa, address=FRIEND_AT_VASP)),
        client.post(f"{BOOK}{own.pk}/remove/"),
        client.post(f"{BOOK}{own.pk}/proof/", {"asset": "USDC"}),
        client.post(f"{BOOK}{own.pk}/proof/demo-send/"),
    ]

    for response in responses:
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    assert book(alice_2fa) == before


def test_address_book_lists_only_the_users_own_entries(client, alice_2fa, mallory):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa, label="Hardware wallet")
    vasp = entry(
        alice_2fa,
        FRIEND_AT_VASP,
        ownership=WalletOwnership.VASP,
        vasp_name="Other Exchange GmbH",
        beneficiary_name="Bea Friend",
    )
    theirs = entry(mallory, MALLORY_WALLET, label="mallory's")
    client.force_login(alice_2fa)

    html = client.get(BOOK).content.decode()

    assert cell(row(html, own.pk), "label") == "Hardware wallet"
    assert cell(row(html, own.pk), "address") == OWN_WALLET
    assert cell(row(html, own.pk), "destination") == "Self-hosted wallet"
    assert cell(row(html, vasp.pk), "destination") == "Other Exchange GmbH · for Bea Friend"
    assert cell(row(html, vasp.pk), "proof") == "Not needed (provider)"
    assert cell(row(html, own.pk), "proof") == "Not proven"
    assert row(html, theirs.pk) == ""
    assert MALLORY_WALLET not in html
    # The wallet links to the book and offers the user's own entries, and only them, in its picker.
    wallet = client.get("/wallet/").content.decode()
    assert 'id="address-book-link"' in wallet
    picker = re.search(r'<select id="withdraw-entry".*?</select>', wallet, re.S)
    assert picker
    assert f'value="{own.pk}"' in picker.group(0)
    assert f'value="{theirs.pk}"' not in picker.group(0)


def test_another_users_address_cannot_be_removed_or_tested(client, alice_2fa, mallory):  # type: ignore[no-untyped-def]
    victim = entry(alice_2fa)
    before = book(alice_2fa)
    audit_before = AuditEntry.objects.count()
    client.force_login(mallory)

    removal = client.post(f"{BOOK}{victim.pk}/remove/")
    proof = client.post(f"{BOOK}{victim.pk}/proof/", {"asset": "USDC"})
    demo = client.post(f"{BOOK}{victim.pk}/proof/demo-send/")

    assert (removal.status_code, proof.status_code, demo.status_code) == (404, 404, 404)
    assert book(alice_2fa) == before
    assert AuditEntry.objects.count() == audit_before


def test_address_book_posts_need_the_csrf_token(alice_2fa):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa)
    before = book(alice_2fa)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice_2fa)

    added = client.post(BOOK, add_form(alice_2fa, address=FRIEND_AT_VASP))
    removed = client.post(f"{BOOK}{own.pk}/remove/")

    assert (added.status_code, removed.status_code) == (403, 403)
    assert book(alice_2fa) == before
    # The page itself carries the token in every form, so a real browser's posts go through.
    html = client.get(BOOK).content.decode()
    assert html.count('name="csrfmiddlewaretoken"') >= 3


# --- adding -----------------------------------------------------------------------------------


def test_adding_with_a_wrong_code_changes_nothing_and_says_so_next_to_the_code(client, alice_2fa):  # type: ignore[no-untyped-def]
    client.force_login(alice_2fa)

    response = client.post(BOOK, add_form(alice_2fa, twoFactorToken=wrong_code(alice_2fa)))

    assert response.status_code == 400
    html = response.content.decode()
    assert field_error(html, "twoFactorToken") == "Invalid two-factor code"
    assert field_error(html, "address") == ""
    assert book(alice_2fa) == []
    # The typed address is kept for the next try; the code is not echoed back.
    assert f'value="{OWN_WALLET}"' in html
    assert not re.search(r'id="address-2fa"[^>]*value=', html)


def test_adding_without_a_code_or_an_authenticator_is_refused_at_the_code(client, alice_2fa, mallory):  # type: ignore[no-untyped-def]
    client.force_login(alice_2fa)
    no_code = client.post(BOOK, add_form(alice_2fa, twoFactorToken=""))
    client.force_login(mallory)  # no authenticator set up
    no_device = client.post(BOOK, add_form(mallory, twoFactorToken="123456", address=MALLORY_WALLET))

    assert field_error(no_code.content.decode(), "twoFactorToken") == "Two-factor code required"
    assert "needs two-factor authentication" in field_error(no_device.content.decode(), "twoFactorToken")
    assert 'id="address-2fa-needed"' in no_device.content.decode()
    assert book(alice_2fa) == book(mallory) == []


def test_adding_an_address_shows_its_waiting_period_until_it_is_ready(client, alice_2fa, clock):  # type: ignore[no-untyped-def]
    client.force_login(alice_2fa)

    response = client.post(BOOK, add_form(alice_2fa), follow=True)

    added = WithdrawalAddress.objects.get(user=alice_2fa)
    assert (added.address, added.label, added.ownership) == (OWN_WALLET, "Hardware wallet", "self_hosted")
    assert added.usable_from == T0 + timedelta(hours=24)
    html = response.content.decode()
    assert "can be used from 2026-03-03 09:00 UTC (usable in 24 h)" in html
    assert cell(row(html, added.pk), "usable") == "usable in 24 h"
    assert AuditEntry.objects.filter(action="withdrawal_address.add", object_id=str(added.pk)).count() == 1

    clock.move_to(T0 + timedelta(hours=1, minutes=10))
    assert cell(row(client.get(BOOK).content.decode(), added.pk), "usable") == "usable in 23 h"
    clock.move_to(T0 + timedelta(hours=23, minutes=30))
    assert cell(row(client.get(BOOK).content.decode(), added.pk), "usable") == "usable in 30 min"
    clock.move_to(T0 + timedelta(hours=24))
    assert cell(row(client.get(BOOK).content.decode(), added.pk), "usable") == "ready"


def test_an_address_at_another_provider_needs_both_names_each_next_to_its_field(client, alice_2fa):  # type: ignore[no-untyped-def]
    client.force_login(alice_2fa)
    code = fresh_code(alice_2fa)

    response = client.post(
        BOOK, add_form(alice_2fa, ownership="vasp", address=FRIEND_AT_VASP, twoFactorToken=code)
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "provider" in field_error(html, "vasp_name")
    assert "account holder" in field_error(html, "beneficiary_name")
    assert book(alice_2fa) == []
    # The code was not used up by the refusal: it still adds the corrected entry.
    fixed = add_form(
        alice_2fa,
        ownership="vasp",
        address=FRIEND_AT_VASP,
        vasp_name="Other Exchange GmbH",
        beneficiary_name="Bea Friend",
        vasp_lei="529900T8BM49AURSDO55",
        twoFactorToken=code,
    )
    assert client.post(BOOK, fixed).status_code == 302
    added = WithdrawalAddress.objects.get(user=alice_2fa)
    assert (added.vasp_name, added.beneficiary_name, added.vasp_lei) == (
        "Other Exchange GmbH",
        "Bea Friend",
        "529900T8BM49AURSDO55",
    )


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"address": "not-a-solana-address"}, "address", "Invalid Solana address: not-a-solana-address"),
        ({"blockchain": "Dogecoin"}, "blockchain", "Unsupported blockchain: Dogecoin"),
        ({"asset": "BTC"}, "asset", "BTC is not sent on Solana"),
        (
            {"ownership": "vasp", "vasp_name": "X", "beneficiary_name": "Y", "vasp_lei": "LEI"},
            "vasp_lei",
            "A provider's LEI is 20 letters and digits (ISO 17442), ending in two digits",
        ),
    ],
)
def test_the_services_refusals_land_next_to_their_fields(client, alice_2fa, overrides, field, expected):  # type: ignore[no-untyped-def]
    client.force_login(alice_2fa)

    response = client.post(BOOK, add_form(alice_2fa, **overrides))

    assert response.status_code == 400
    assert field_error(response.content.decode(), field) == expected
    assert book(alice_2fa) == []


def test_an_address_already_in_the_book_is_refused_at_the_address(client, alice_2fa):  # type: ignore[no-untyped-def]
    entry(alice_2fa)
    before = book(alice_2fa)
    client.force_login(alice_2fa)

    response = client.post(BOOK, add_form(alice_2fa))

    assert field_error(response.content.decode(), "address") == f"{OWN_WALLET} is already in the address book"
    assert book(alice_2fa) == before


# --- removing ---------------------------------------------------------------------------------


def test_removing_an_entry_deletes_it_and_audits_what_it_was(client, alice_2fa):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa, label="Old wallet")
    client.force_login(alice_2fa)

    response = client.post(f"{BOOK}{own.pk}/remove/", follow=True)

    assert response.status_code == 200
    assert book(alice_2fa) == []
    assert "Address removed from your address book." in response.content.decode()
    audit = AuditEntry.objects.get(action="withdrawal_address.remove")
    assert (audit.actor_id, audit.object_id) == (alice_2fa.pk, str(own.pk))
    assert audit.before["address"] == OWN_WALLET
    assert audit.before["label"] == "Old wallet"


def test_an_entry_with_a_withdrawal_in_progress_is_not_removed(client, alice_2fa, settings, clock):  # type: ignore[no-untyped-def]
    settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = timedelta(0)
    own = entry(alice_2fa)
    withdrawal = withdrawal_request(
        user=alice_2fa,
        asset_symbol="USDC",
        blockchain="Solana",
        address=OWN_WALLET,
        quantity=Decimal("10"),
        two_factor_token=fresh_code(alice_2fa),
    )
    before = book(alice_2fa)
    client.force_login(alice_2fa)

    response = client.post(f"{BOOK}{own.pk}/remove/", follow=True)

    assert f"Withdrawal {withdrawal.pk} to {OWN_WALLET} is still in progress" in response.content.decode()
    assert book(alice_2fa) == before
    assert Withdrawal.objects.get(pk=withdrawal.pk).address_entry_id == own.pk


# --- proof of control ---------------------------------------------------------------------------


def test_satoshi_test_shows_the_amount_and_the_demo_transfer_proves_control(client, alice_2fa):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa)
    client.force_login(alice_2fa)

    client.post(f"{BOOK}{own.pk}/proof/", {"asset": "USDC"})

    own.refresh_from_db()
    assert own.proof_asset is not None
    assert own.proof_quantity is not None
    html = client.get(BOOK).content.decode()
    deposit_address = alice_2fa.deposit_addresses.get(blockchain="Solana").address
    panel = re.search(rf'<article[^>]*id="proof-{own.pk}".*?</article>', html, re.S)
    assert panel
    assert f"{own.proof_quantity.normalize():f} USDC" in panel.group(0)
    assert deposit_address in panel.group(0)
    assert cell(row(html, own.pk), "proof") == "Test pending"
    usdc_before = balances_for_user(user_id=alice_2fa.pk)["USDC"]["available"]

    client.post(f"{BOOK}{own.pk}/proof/demo-send/")

    own.refresh_from_db()
    assert own.is_proven
    assert balances_for_user(user_id=alice_2fa.pk)["USDC"]["available"] == usdc_before + own.proof_quantity
    html = client.get(BOOK).content.decode()
    assert cell(row(html, own.pk), "proof") == "Proven 2026-03-02"
    assert f'id="proof-{own.pk}"' not in html


def test_the_demo_transfer_is_off_unless_demo_deposits_are_on(client, alice_2fa, settings):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa)
    client.force_login(alice_2fa)
    client.post(f"{BOOK}{own.pk}/proof/", {"asset": "USDC"})
    settings.DEMO_DEPOSITS_ENABLED = False
    balances = balances_for_user(user_id=alice_2fa.pk)

    response = client.post(f"{BOOK}{own.pk}/proof/demo-send/")

    assert response.status_code == 404
    own.refresh_from_db()
    assert not own.is_proven
    assert balances_for_user(user_id=alice_2fa.pk) == balances
    assert "proof-demo-form" not in client.get(BOOK).content.decode()


def test_a_provider_address_has_no_satoshi_test(client, alice_2fa):  # type: ignore[no-untyped-def]
    vasp = entry(
        alice_2fa, FRIEND_AT_VASP, ownership=WalletOwnership.VASP, vasp_name="Other", beneficiary_name="Bea"
    )
    client.force_login(alice_2fa)

    response = client.post(f"{BOOK}{vasp.pk}/proof/", {"asset": "USDC"}, follow=True)

    assert "Proof of control is for self-hosted wallets" in response.content.decode()
    vasp.refresh_from_db()
    assert vasp.proof_quantity is None


# --- the withdrawal form ------------------------------------------------------------------------


def test_withdrawing_to_a_ready_entry_picked_from_the_book(client, alice_2fa, clock):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa)
    clock.move_to(T0 + timedelta(hours=25))
    client.force_login(alice_2fa)

    response = client.post(
        "/wallet/",
        {"entry": str(own.pk), "asset": "USDC", "quantity": "25", "twoFactorToken": fresh_code(alice_2fa)},
    )

    assert response.status_code == 302
    withdrawal = Withdrawal.objects.get(user=alice_2fa)
    assert (withdrawal.to_address, withdrawal.blockchain, withdrawal.address_entry_id) == (
        OWN_WALLET,
        "Solana",
        own.pk,
    )
    assert withdrawal.quantity == Decimal("25")


def test_withdrawing_to_an_entry_in_its_waiting_period_is_refused_next_to_the_picker(client, alice_2fa):  # type: ignore[no-untyped-def]
    own = entry(alice_2fa)
    balances = balances_for_user(user_id=alice_2fa.pk)
    client.force_login(alice_2fa)

    response = client.post(
        "/wallet/",
        {"entry": str(own.pk), "asset": "USDC", "quantity": "25", "twoFactorToken": fresh_code(alice_2fa)},
    )

    assert response.status_code == 400
    message = field_error(response.content.decode(), "entry")
    assert "for your security it can be used from 2026-03-03 09:00 UTC" in message
    assert not Withdrawal.objects.exists()
    assert balances_for_user(user_id=alice_2fa.pk) == balances


def test_a_new_typed_address_joins_the_book_with_the_waiting_period_message(client, alice_2fa):  # type: ignore[no-untyped-def]
    balances = balances_for_user(user_id=alice_2fa.pk)
    client.force_login(alice_2fa)

    response = client.post(
        "/wallet/",
        {
            "entry": "",
            "asset": "USDC",
            "blockchain": "Solana",
            "address": OWN_WALLET,
            "quantity": "25",
            "twoFactorToken": fresh_code(alice_2fa),
        },
    )

    assert response.status_code == 400
    message = field_error(response.content.decode(), "address")
    assert message.startswith(f"Address {OWN_WALLET} was added to your address book")
    assert "can be used from 2026-03-03 09:00 UTC" in message
    assert [e[2] for e in book(alice_2fa)] == [OWN_WALLET]
    assert not Withdrawal.objects.exists()
    assert balances_for_user(user_id=alice_2fa.pk) == balances


def test_picking_another_users_entry_is_refused(client, alice_2fa, mallory):  # type: ignore[no-untyped-def]
    theirs = entry(mallory, MALLORY_WALLET)
    client.force_login(alice_2fa)

    response = client.post(
        "/wallet/",
        {"entry": str(theirs.pk), "asset": "USDC", "quantity": "25", "twoFactorToken": fresh_code(alice_2fa)},
    )

    assert response.status_code == 400
    assert field_error(response.content.decode(), "entry") == "Choose an address from your address book."
    assert not Withdrawal.objects.exists()
    assert book(alice_2fa) == []


def test_a_held_withdrawal_says_it_waits_for_two_officers(client, alice_2fa, settings):  # type: ignore[no-untyped-def]
    settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = timedelta(0)
    settings.WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR = "20"
    entry(alice_2fa)
    withdrawal = withdrawal_request(
        user=alice_2fa,
        asset_symbol="USDC",
        blockchain="Solana",
        address=OWN_WALLET,
        quantity=Decimal("30"),
        two_factor_token=fresh_code(alice_2fa),
    )
    assert withdrawal_approve(withdrawal_id=withdrawal.pk).status == WithdrawalStatus.HELD
    client.force_login(alice_2fa)

    html = client.get("/wallet/").content.decode()

    table = re.search(r'<table[^>]*id="withdrawals".*?</table>', html, re.S)
    assert table
    status = re.search(
        rf'<tr[^>]*data-withdrawal-id="{withdrawal.pk}"[^>]*>.*?<td class="status">(.*?)</td>',
        table.group(0),
        re.S,
    )
    assert status
    text = html_text.unescape(re.sub(r"<[^>]+>", "", status.group(1)))
    assert text == (
        "Held for four-eyes approval: worth 30.00 EUR, above 20.00 EUR: two compliance officers "
        "must approve it before it is sent."
    )
