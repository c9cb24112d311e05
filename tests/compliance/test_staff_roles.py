"""Staff roles (groups from the data migration) and mandatory 2FA for the back office."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import Alert, AlertStatus
from compliance.roles import ADMINISTRATOR, AUDITED_APPS, AUDITOR, COMPLIANCE_OFFICER, SUPPORT_AGENT
from compliance.services.screening import user_screen
from exchange.chain.addresses import base58_encode
from exchange.chain.simulated_withdrawals import SimulatedChain
from exchange.models import (
    Deposit,
    DepositStatus,
    LedgerAccount,
    WalletOwnership,
    Withdrawal,
    WithdrawalStatus,
)
from exchange.services.deposits import deposit_credit
from exchange.services.withdrawal_addresses import withdrawal_address_add
from exchange.services.withdrawals import withdrawal_advance, withdrawal_request
from tests.fixtures.staff import staff_device, staff_login, totp_code

DECISIONS = {
    "accounts.review_kyc",
    "compliance.decide_alert",
    "exchange.approve_withdrawal",
    "exchange.review_deposit",
}


def staff(email: str, role: str):  # type: ignore[no-untyped-def]
    from accounts.models import User

    user = User.objects.create_user(email, "staff-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


def group_permissions(role: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_the_four_roles_hold_exactly_what_their_job_needs(db):
    officer, support, auditor, administrator = (
        group_permissions(role) for role in (COMPLIANCE_OFFICER, SUPPORT_AGENT, AUDITOR, ADMINISTRATOR)
    )

    assert officer >= DECISIONS
    for others in (support, auditor, administrator):
        assert not others & DECISIONS
    assert "compliance.view_alert" not in support  # no tipping-off through the support desk
    assert all(name.split(".")[1].startswith("view_") for name in auditor)
    assert {"compliance.view_auditentry", "exchange.view_withdrawal", "accounts.view_kyccase"} <= auditor
    assert {"exchange.change_market", "exchange.change_feetier", "accounts.change_user"} <= administrator
    assert not any(name.split(".")[1].startswith(("delete_",)) for name in officer | support | administrator)


def test_staff_without_an_authenticator_are_sent_to_set_one_up(client, db):
    clerk = staff("clerk@example.com", SUPPORT_AGENT)
    client.force_login(clerk)

    response = client.get(reverse("admin:index"), follow=True)

    assert [url for url, _ in response.redirect_chain] == [
        "/admin/login/?next=/admin/",
        reverse("accounts:security"),
    ]
    assert "two-factor authentication" in response.content.decode()


def test_a_session_without_the_code_step_must_log_in_again(client, db):
    clerk = staff("clerk@example.com", SUPPORT_AGENT)
    staff_device(clerk)
    client.force_login(clerk)  # a password-only session

    response = client.get(reverse("admin:index"), follow=True)

    assert response.redirect_chain[-1] == ("/login/?next=%2Fadmin%2F", 302)
    assert "_auth_user_id" not in client.session


def test_the_password_and_a_current_code_open_the_back_office(client, db):
    clerk = staff("clerk@example.com", SUPPORT_AGENT)
    device = staff_device(clerk)
    clerk.set_password("clerk-password-1")
    clerk.save()

    client.post(reverse("accounts:login"), {"email": clerk.email, "password": "clerk-password-1"})
    wrong = client.post(
        reverse("accounts:login_2fa"), {"token": f"{(int(totp_code(device)) + 1) % 10**6:06d}"}
    )
    assert client.get(reverse("admin:index")).status_code == 302
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    right = client.post(reverse("accounts:login_2fa"), {"token": totp_code(device)})

    assert (wrong.status_code, right.status_code) == (200, 302)
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_auditor_can_read_everything_and_change_nothing(db):
    auditor = staff("audrey@example.com", AUDITOR)
    request = RequestFactory().get("/admin/")
    request.user = auditor

    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        # Authenticator secrets (django-otp's own admin) are no record of the exchange's business.
        assert model_admin.has_view_permission(request) == (model._meta.app_label in AUDITED_APPS), label
        assert not model_admin.has_add_permission(request), label
        assert not model_admin.has_change_permission(request), label
        assert not model_admin.has_delete_permission(request), label
        # Exporting is reading: the one action an auditor may run.
        assert set(model_admin.get_actions(request)) <= {"export_json"}, label


# --- a support agent is refused on every approval view ----------------------------------------------


@pytest.fixture
def queues(demo_markets, alice, sample_list, settings):  # type: ignore[no-untyped-def]
    """One of each: an open alert, a held withdrawal, a held deposit, a KYC case to review."""
    from accounts.models import KycCase

    settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = 0
    settings.VALUATION_EUR_USD_RATE = "1"
    usdc = demo_markets["USDC"]
    deposit_credit(user_id=alice.pk, asset=usdc, quantity=Decimal("30000"), source="solana")
    device = TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)
    address = base58_encode(hashlib.sha256(b"a friend at another exchange").digest())
    withdrawal_address_add(
        user=alice,
        blockchain="Solana",
        address=address,
        ownership=WalletOwnership.VASP,
        vasp_name="Example Exchange GmbH",
        beneficiary_name="Bea Beispiel",
    )
    withdrawal = withdrawal_request(
        user=alice,
        asset_symbol="USDC",
        blockchain="Solana",
        address=address,
        quantity=Decimal("20000"),
        two_factor_token=totp_code(device),
    )
    withdrawal_advance(withdrawal_id=withdrawal.pk, chain=SimulatedChain())
    deposit = deposit_credit(
        user_id=alice.pk,
        asset=usdc,
        quantity=Decimal("5"),
        source="solana",
        transaction_hash="tx-flagged",
        from_address="CJt61ccg8KMdhh4sKssc7ZGU1YKJMmfS3AdBDMpBBMYb",
    )
    (alert,) = user_screen(user=alice, full_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14))
    case = KycCase.objects.create(user=alice, kind="full", target_level="enhanced", opened_reason="documents")
    return {"withdrawal": withdrawal, "deposit": deposit, "alert": alert, "case": case}


def state() -> tuple[object, ...]:
    from accounts.models import KycCase

    return (
        list(Withdrawal.objects.values_list("pk", "status", "first_approved_by")),
        list(Deposit.objects.values_list("pk", "status")),
        list(Alert.objects.values_list("pk", "status")),
        list(KycCase.objects.values_list("pk", "status")),
        dict(LedgerAccount.objects.values_list("pk", "balance")),
    )


def test_a_support_agent_is_refused_on_every_approval_view(client, queues):
    sam = staff("sam@example.com", SUPPORT_AGENT)
    staff_login(client, sam)
    assert Withdrawal.objects.get().status == WithdrawalStatus.HELD
    assert Deposit.objects.get(pk=queues["deposit"].pk).status == DepositStatus.HELD
    before = state()

    approve = client.post(
        reverse("admin:exchange_withdrawal_changelist"),
        {"action": "approve_selected", ACTION_CHECKBOX_NAME: [queues["withdrawal"].pk]},
    )
    release = client.post(
        reverse("admin:exchange_deposit_changelist"),
        {
            "action": "release_selected",
            ACTION_CHECKBOX_NAME: [queues["deposit"].pk],
            "apply": "1",
            "reason": "ok",
        },
    )
    confirm = client.post(
        reverse("admin:compliance_alert_changelist"),
        {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [queues["alert"].pk]},
    )
    kyc = client.post(
        reverse("admin:accounts_kyccase_change", args=[queues["case"].pk]),
        {"decision": "approve", "reason": "documents fine"},
    )

    # The decisions are not offered to her (the list comes back unchanged); alerts are not hers to see.
    assert (approve.status_code, release.status_code, confirm.status_code, kyc.status_code) == (
        200,
        200,
        403,
        403,
    )
    assert b"approve_selected" not in approve.content
    assert b"release_selected" not in release.content
    assert state() == before
    assert Alert.objects.get(pk=queues["alert"].pk).status == AlertStatus.OPEN


def test_the_auditor_is_refused_on_every_approval_view(client, queues):
    audrey = staff("audrey@example.com", AUDITOR)
    staff_login(client, audrey)
    before = state()

    for url, action in [
        (reverse("admin:exchange_withdrawal_changelist"), "approve_selected"),
        (reverse("admin:exchange_deposit_changelist"), "release_selected"),
        (reverse("admin:compliance_alert_changelist"), "confirm_selected"),
    ]:
        client.post(
            url, {"action": action, ACTION_CHECKBOX_NAME: ["1", "2", "3"], "apply": "1", "reason": "x"}
        )
    kyc = client.post(
        reverse("admin:accounts_kyccase_change", args=[queues["case"].pk]),
        {"decision": "approve", "reason": "x"},
    )

    assert kyc.status_code == 403
    assert state() == before
