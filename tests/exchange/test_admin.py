"""The exchange back office: configuration is editable, ledger state is read-only, and staff
credit deposits only through the credit form, which posts through `deposit_credit`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from exchange.models import AccountKind, Deposit, JournalEntry, JournalLine, LedgerAccount
from exchange.services.deposits import deposit_credit
from exchange.services.ledger import ledger_account_get
from exchange.services.ledger_check import ledger_check
from tests.fixtures.staff import staff_login

CREDIT_URL = "admin:exchange_deposit_credit"


@pytest.fixture
def superuser(db):  # type: ignore[no-untyped-def]
    from accounts.models import User

    return User.objects.create_superuser("root@example.com", "root-password-1")


@pytest.fixture
def clerk(db):  # type: ignore[no-untyped-def]
    """Staff who may view deposits but not credit them."""
    from accounts.models import User

    user = User.objects.create_user("clerk@example.com", "clerk-password-1", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_deposit", content_type__app_label="exchange")
    )
    return user


@pytest.fixture
def treasurer(db):  # type: ignore[no-untyped-def]
    """Staff with only the permission the credit form asks for."""
    from accounts.models import User

    user = User.objects.create_user("treasurer@example.com", "treasurer-password", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="add_deposit", content_type__app_label="exchange")
    )
    return user


@pytest.fixture
def ledger_with_a_deposit(demo_markets, alice):  # type: ignore[no-untyped-def]
    return deposit_credit(
        user_id=alice.pk,
        asset=demo_markets["BTC"],
        quantity=Decimal("0.5"),
        source="bitcoin",
        transaction_hash="f0" * 32,
    )


def state() -> tuple[dict[int, Decimal], int, int, int]:
    return (
        dict(LedgerAccount.objects.values_list("pk", "balance")),
        JournalEntry.objects.count(),
        JournalLine.objects.count(),
        Deposit.objects.count(),
    )


@pytest.mark.parametrize("model", ["asset", "market", "ledgeraccount", "journalentry", "deposit"])
def test_superuser_sees_every_changelist(client, superuser, ledger_with_a_deposit, model):
    staff_login(client, superuser)

    response = client.get(reverse(f"admin:exchange_{model}_changelist"))

    assert response.status_code == 200


def test_ledger_pages_filter_search_and_show_lines(client, superuser, ledger_with_a_deposit, alice):
    staff_login(client, superuser)
    account = ledger_account_get(
        owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=ledger_with_a_deposit.asset
    )

    listed = client.get(
        reverse("admin:exchange_ledgeraccount_changelist"), {"q": "alice@", "kind__exact": "available"}
    )
    entry = client.get(reverse("admin:exchange_journalentry_change", args=[ledger_with_a_deposit.entry_id]))
    by_day = client.get(reverse("admin:exchange_journalentry_changelist"), {"kind__exact": "deposit"})

    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [account]
    assert entry.status_code == 200
    assert b"0.500000000000000000" in entry.content
    assert list(by_day.context["cl"].result_list) == [JournalEntry.objects.get()]


def test_config_pages_are_editable(client, superuser, demo_markets):
    staff_login(client, superuser)

    asset = client.get(reverse("admin:exchange_asset_change", args=[demo_markets["USDC"].pk]))
    market = client.get(reverse("admin:exchange_market_changelist"))

    assert asset.status_code == 200
    assert asset.context["has_change_permission"]
    assert b"EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v" in asset.content  # the token inline
    assert market.context["has_add_permission"]
    assert [m.symbol for m in market.context["cl"].result_list][:2] == ["BTC_USDC", "BTC_USDC_PERP"]


def test_ledger_account_admin_refuses_add_change_and_delete(client, superuser, ledger_with_a_deposit, alice):
    staff_login(client, superuser)
    account = ledger_account_get(
        owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=ledger_with_a_deposit.asset
    )
    before = state()

    change = client.post(
        reverse("admin:exchange_ledgeraccount_change", args=[account.pk]),
        {"owner": alice.pk, "kind": "available", "asset": account.asset_id, "balance": "1000"},
    )
    delete = client.post(reverse("admin:exchange_ledgeraccount_delete", args=[account.pk]), {"post": "yes"})
    add = client.get(reverse("admin:exchange_ledgeraccount_add"))
    view = client.get(reverse("admin:exchange_ledgeraccount_change", args=[account.pk]))

    assert (change.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert view.status_code == 200
    assert not view.context["has_change_permission"]
    assert state() == before


def test_journal_and_deposit_admins_are_read_only(client, superuser, ledger_with_a_deposit):
    staff_login(client, superuser)
    before = state()

    responses = [
        client.post(
            reverse("admin:exchange_journalentry_delete", args=[ledger_with_a_deposit.entry_id]),
            {"post": "yes"},
        ),
        client.get(reverse("admin:exchange_journalentry_add")),
        client.post(
            reverse("admin:exchange_deposit_delete", args=[ledger_with_a_deposit.pk]), {"post": "yes"}
        ),
        client.get(reverse("admin:exchange_deposit_add")),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert state() == before


def test_deposit_changelist_links_the_credit_form_for_those_who_may_credit(
    client, superuser, clerk, demo_markets
):
    changelist = reverse("admin:exchange_deposit_changelist")
    link = f'href="{reverse(CREDIT_URL)}"'.encode()

    staff_login(client, superuser)
    assert link in client.get(changelist).content
    staff_login(client, clerk)
    response = client.get(changelist)
    assert response.status_code == 200
    assert link not in response.content


def test_staff_credit_posts_one_entry_and_updates_the_balance(client, treasurer, demo_markets, alice):
    staff_login(client, treasurer)
    usdc = demo_markets["USDC"]
    assert client.get(reverse(CREDIT_URL)).status_code == 200
    entries_before = JournalEntry.objects.count()

    response = client.post(
        reverse(CREDIT_URL),
        {
            "email": "Alice@Example.com",
            "asset": usdc.pk,
            "quantity": "1250.75",
            "memo": "ticket 4711: lost deposit",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:exchange_deposit_changelist")
    assert JournalEntry.objects.count() == entries_before + 1
    deposit = Deposit.objects.get()
    assert (deposit.user, deposit.asset, deposit.quantity) == (alice, usdc, Decimal("1250.75"))
    assert (deposit.source, deposit.created_by, deposit.memo) == (
        "administrator",
        treasurer,
        "ticket 4711: lost deposit",
    )
    assert deposit.entry.created_by == treasurer
    assert deposit.entry.lines.count() == 2
    assert ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=usdc).balance == Decimal(
        "1250.75"
    )
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Credited 1250.75 USDC to alice@example.com (deposit #{deposit.pk})."
    ]
    assert LogEntry.objects.get(object_id=str(deposit.pk)).action_flag == ADDITION
    assert ledger_check().ok


def test_staff_without_the_permission_gets_403_and_nothing_changes(client, clerk, demo_markets, alice):
    staff_login(client, clerk)
    before = state()

    shown = client.get(reverse(CREDIT_URL))
    posted = client.post(
        reverse(CREDIT_URL),
        {"email": "alice@example.com", "asset": demo_markets["BTC"].pk, "quantity": "1", "memo": "try"},
    )

    assert (shown.status_code, posted.status_code) == (403, 403)
    assert state() == before


def test_non_staff_are_sent_to_the_admin_login(client, alice, demo_markets):
    client.force_login(alice)
    before = state()

    response = client.post(
        reverse(CREDIT_URL),
        {"email": "alice@example.com", "asset": demo_markets["BTC"].pk, "quantity": "1", "memo": "x"},
    )

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert state() == before


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"email": "nobody@example.com", "quantity": "1"}, "email", "No user has this email address."),
        (
            {"quantity": "0.123456789"},
            "quantity",
            "deposit quantity must be positive with at most 8 decimals",
        ),
        ({"quantity": "0"}, "quantity", "deposit quantity must be positive with at most 8 decimals"),
        ({"quantity": "-1"}, "quantity", "Ensure this value is greater than or equal to 0."),
        ({"quantity": "1", "memo": ""}, "memo", "This field is required."),
    ],
)
def test_refused_credit_shows_the_error_and_changes_nothing(
    client, superuser, demo_markets, alice, form, field, message
):
    staff_login(client, superuser)
    before = state()
    data = {"email": "alice@example.com", "asset": demo_markets["BTC"].pk, "memo": "goodwill", **form}

    response = client.post(reverse(CREDIT_URL), data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert state() == before
