"""The officer's back office: queues on the index, four-eyes approval and deposit release through
the admin, the travel-rule export, the audit trail's filters, and the customer page."""

from __future__ import annotations

import json

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from compliance.models import AuditEntry
from compliance.roles import COMPLIANCE_OFFICER, SUPPORT_AGENT
from exchange.models import DepositStatus, LedgerAccount, Withdrawal, WithdrawalStatus
from tests.compliance.test_staff_roles import queues, staff  # noqa: F401 (the `queues` fixture)
from tests.fixtures.staff import staff_login


def test_the_index_shows_each_queue_with_its_count_and_link(client, queues):  # noqa: F811
    staff_login(client, staff("carol@example.com", COMPLIANCE_OFFICER))

    response = client.get(reverse("admin:index"))

    assert [(q.label, q.count, q.url) for q in response.context["queues"]] == [
        ("KYC cases to review", 1, "/admin/accounts/kyccase/?status__exact=pending"),
        ("Open alerts", 2, "/admin/compliance/alert/?status__exact=open"),
        ("Withdrawals awaiting approval", 1, "/admin/exchange/withdrawal/?status__exact=held"),
        ("Deposits held for review", 1, "/admin/exchange/deposit/?status__exact=held"),
    ]
    assert 'href="/admin/exchange/withdrawal/?status__exact=held"' in response.content.decode()
    listed = client.get("/admin/exchange/withdrawal/?status__exact=held")
    assert [w.pk for w in listed.context["cl"].result_list] == [queues["withdrawal"].pk]


def test_two_officers_approve_a_held_withdrawal_in_the_admin(queues, alice):  # noqa: F811
    carol, dave = (
        staff("carol@example.com", COMPLIANCE_OFFICER),
        staff("dave@example.com", COMPLIANCE_OFFICER),
    )
    as_carol, as_dave = Client(), Client()
    staff_login(as_carol, carol)
    staff_login(as_dave, dave)
    url = reverse("admin:exchange_withdrawal_changelist")
    data = {"action": "approve_selected", ACTION_CHECKBOX_NAME: [queues["withdrawal"].pk]}

    as_carol.post(url, data)
    again = as_carol.post(url, data, follow=True)
    assert "A second, different officer must give the second approval" in again.content.decode()
    assert Withdrawal.objects.get().status == WithdrawalStatus.HELD
    as_dave.post(url, data)

    withdrawal = Withdrawal.objects.get()
    assert (withdrawal.status, withdrawal.first_approved_by_id, withdrawal.second_approved_by_id) == (
        WithdrawalStatus.REQUESTED,
        carol.pk,
        dave.pk,
    )
    actions = as_carol.get(
        reverse("admin:compliance_auditentry_changelist"), {"action": "withdrawal.approve_second"}
    )
    assert [entry.actor_id for entry in actions.context["cl"].result_list] == [dave.pk]


def test_an_officer_releases_a_held_deposit_with_a_reason(client, queues, alice):  # noqa: F811
    carol = staff("carol@example.com", COMPLIANCE_OFFICER)
    staff_login(client, carol)
    url = reverse("admin:exchange_deposit_changelist")
    data = {"action": "release_selected", ACTION_CHECKBOX_NAME: [queues["deposit"].pk]}

    asked = client.post(url, data)
    assert "reason" in asked.content.decode()
    client.post(url, {**data, "apply": "1", "reason": "Wallet owner verified"})

    queues["deposit"].refresh_from_db()
    assert (queues["deposit"].status, queues["deposit"].review_reason) == (
        DepositStatus.CONFIRMED,
        "Wallet owner verified",
    )
    assert AuditEntry.objects.filter(action="deposit.release", actor=carol).count() == 1


def test_travel_rule_records_export_as_ivms101_json(client, queues):  # noqa: F811
    staff_login(client, staff("carol@example.com", COMPLIANCE_OFFICER))
    record = queues["withdrawal"].travel_rule_record

    response = client.post(
        reverse("admin:compliance_travelrulerecord_changelist"),
        {"action": "export_json", ACTION_CHECKBOX_NAME: [record.pk]},
    )

    assert response["Content-Disposition"] == 'attachment; filename="travel-rule-records.json"'
    (exported,) = json.loads(response.content)
    assert exported["withdrawal_id"] == queues["withdrawal"].pk
    assert exported["ivms101"]["beneficiaryVASP"]["beneficiaryVASP"]["legalPerson"]["name"] == {
        "nameIdentifier": [
            {"legalPersonName": "Example Exchange GmbH", "legalPersonNameIdentifierType": "LEGL"}
        ]
    }


def test_the_customer_page_shows_everything_together(client, queues, alice):  # noqa: F811
    staff_login(client, staff("carol@example.com", COMPLIANCE_OFFICER))

    response = client.get(reverse("admin:customer_overview", args=[alice.pk]))

    page = response.content.decode()
    overview = response.context["overview"]
    assert response.status_code == 200
    for section in (
        "alice@example.com",
        "Screening hits",
        "Balances",
        "Orders",
        "Transfers",
        "Audit history",
    ):
        assert section in page
    assert len(overview.alerts) == 2
    assert {(a.asset.symbol, a.kind) for a in overview.balances} == {
        ("USDC", "available"),
        ("USDC", "locked"),
    }
    assert [w.pk for w in overview.withdrawals] == [queues["withdrawal"].pk]
    assert queues["deposit"] in overview.deposits
    assert {"withdrawal.hold", "deposit.hold", "withdrawal_address.add"} <= {e.action for e in overview.audit}


def test_support_sees_the_customer_but_no_screening_hits(client, queues, alice):  # noqa: F811
    staff_login(client, staff("sam@example.com", SUPPORT_AGENT))

    response = client.get(reverse("admin:customer_overview", args=[alice.pk]))

    assert response.status_code == 200
    assert "Screening hits" not in response.content.decode()
    assert response.context["overview"].alerts is None
    assert LedgerAccount.objects.filter(owner=alice).exists()


def test_staff_without_customer_access_are_refused(client, queues, alice):  # noqa: F811
    from accounts.models import User

    clerk = User.objects.create_user("clerk@example.com", "clerk-password-1", is_staff=True)
    staff_login(client, clerk)

    assert client.get(reverse("admin:customer_overview", args=[alice.pk])).status_code == 403
