"""The compliance back office: read-only pages, and decisions only through the services."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from compliance.models import Alert, AlertStatus, AuditEntry, ComplianceFlag
from compliance.services.screening import user_is_frozen, user_screen
from tests.fixtures.staff import staff_login

MODELS = ["alert", "watchlistentry", "auditentry", "complianceflag", "screeningprofile"]


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    from accounts.models import User

    return User.objects.create_superuser("root@example.com", "root-password-1")


@pytest.fixture
def alert(sample_list, alice):  # type: ignore[no-untyped-def]
    (alert,) = user_screen(user=alice, full_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14))
    return alert


def changelist(model: str) -> str:
    return reverse(f"admin:compliance_{model}_changelist")


@pytest.mark.parametrize("model", MODELS)
def test_superuser_sees_every_changelist(client, superuser, alert, model):
    staff_login(client, superuser)

    response = client.get(changelist(model))

    assert response.status_code == 200


def test_changelists_filter_and_search(client, superuser, alert):
    staff_login(client, superuser)

    assert (
        "Zvyagorsky"
        in client.get(changelist("alert"), {"status__exact": "open", "q": "alice"}).content.decode()
    )
    assert "Zviagorskii" in client.get(changelist("watchlistentry"), {"q": "Zviagorskii"}).content.decode()
    assert client.get(reverse("admin:compliance_alert_change", args=[alert.pk])).status_code == 200


def test_nothing_can_be_added_changed_or_deleted_by_hand(client, superuser, alert):
    staff_login(client, superuser)
    entry = AuditEntry.objects.first()

    for model in MODELS:
        assert client.get(reverse(f"admin:compliance_{model}_add")).status_code == 403
    assert client.get(reverse("admin:compliance_auditentry_delete", args=[entry.pk])).status_code == 403
    response = client.post(reverse("admin:compliance_auditentry_change", args=[entry.pk]), {"action": "x"})
    assert response.status_code == 403
    assert "delete_selected" not in client.get(changelist("auditentry")).content.decode()


def test_an_officer_confirms_from_the_list(client, carol, alert, alice):
    staff_login(client, carol)

    response = client.post(
        changelist("alert"), {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [alert.pk]}
    )

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.decided_by) == (AlertStatus.CONFIRMED, carol)
    assert user_is_frozen(alice.pk)


def test_an_officer_dismisses_with_a_reason(client, carol, alert):
    staff_login(client, carol)
    selected = {"action": "dismiss_selected", ACTION_CHECKBOX_NAME: [alert.pk]}

    page = client.post(changelist("alert"), selected)
    assert page.status_code == 200
    assert "reason" in page.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN

    missing = client.post(changelist("alert"), {**selected, "apply": "1", "reason": ""})
    assert missing.status_code == 200
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN

    done = client.post(
        changelist("alert"), {**selected, "apply": "1", "reason": "other person, passport seen"}
    )
    assert done.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.decision_reason) == (AlertStatus.DISMISSED, "other person, passport seen")


def test_an_officer_unfreezes_with_a_reason(client, carol, alert, alice):
    staff_login(client, carol)
    client.post(changelist("alert"), {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [alert.pk]})
    flag = ComplianceFlag.objects.get(user=alice)

    client.post(
        changelist("complianceflag"),
        {
            "action": "unfreeze_selected",
            ACTION_CHECKBOX_NAME: [flag.pk],
            "apply": "1",
            "reason": "match withdrawn",
        },
    )

    assert not user_is_frozen(alice.pk)


def test_staff_without_the_permission_cannot_decide(client, superuser, alert):
    from django.contrib.auth.models import Permission

    from accounts.models import User

    clerk = User.objects.create_user("clerk@example.com", "clerk-password-1", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_alert"))
    staff_login(client, clerk)
    audit = AuditEntry.objects.count()

    listing = client.get(changelist("alert"))
    client.post(changelist("alert"), {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [alert.pk]})

    assert listing.status_code == 200
    assert "confirm_selected" not in listing.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert Alert.objects.filter(status=AlertStatus.OPEN).count() == 1
    assert AuditEntry.objects.count() == audit
