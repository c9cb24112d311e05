"""Screening services: customers and addresses against the loaded sample list, officers'
decisions, freezes, and the withdrawal gate. Every refusal leaves alerts, flags and the audit
trail exactly as they were."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from compliance.fixtures import generate_sample as sample
from compliance.models import Alert, AlertStatus, AuditEntry, ComplianceFlag, ScreeningProfile
from compliance.rules.screening import ALERT_THRESHOLD
from compliance.services.freezes import account_freeze, account_unfreeze
from compliance.services.screening import (
    AlertStateError,
    address_screen,
    alert_confirm,
    alert_dismiss,
    user_is_frozen,
    user_screen,
)
from compliance.services.watchlist import watchlist_load
from compliance.services.withdrawal_gate import (
    ACCOUNT_FROZEN,
    ADDRESS_BLOCKED,
    withdrawal_compliance_reasons,
)
from core.errors import Forbidden, InvalidRequest


def state() -> tuple[list[tuple], list[tuple], int]:
    return (
        list(Alert.objects.order_by("id").values_list("id", "status", "decided_by", "decision_reason")),
        list(ComplianceFlag.objects.order_by("id").values_list("user", "is_frozen", "reason")),
        AuditEntry.objects.count(),
    )


@pytest.fixture
def zviagorskii_alert(sample_list, alice):  # type: ignore[no-untyped-def]
    (alert,) = user_screen(user=alice, full_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14))
    return alert


# --- user_screen --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "full_name",
    [
        "Igor Zvyagorsky",  # an alias as listed
        "Igor Zviagorskii",  # ICAO, without the patronymic
        "Игорь Звягорский",  # the original script
        "Zvyagorskiy Igor",  # BGN, surname first
        "Igor Swjagorski",  # German
    ],
)
def test_a_sanctioned_person_is_caught_in_any_spelling(sample_list, alice, full_name):
    alerts = user_screen(user=alice, full_name=full_name, birth_date=date(1968, 3, 14))

    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.entry.entity_id == "satchel-sample-anchor-ru"
    assert (alert.kind, alert.status, alert.subject) == ("sanctions", AlertStatus.OPEN, alice)
    assert alert.score >= ALERT_THRESHOLD
    assert alert.screened_name == full_name
    assert any("birth date 1968-03-14 agrees" in reason for reason in alert.reasons)
    assert alert.entry_snapshot["caption"] == "Igor Valentinovich Zviagorskii"
    assert AuditEntry.objects.filter(action="alert.raise", object_id=str(alert.pk)).count() == 1


def test_a_person_listed_only_in_cyrillic_is_caught_in_latin(sample_list, bob):
    alerts = user_screen(user=bob, full_name="Kseniya Borisovna Myakholevskaya", birth_date=date(1981, 6, 1))

    assert [a.entry.entity_id for a in alerts] == ["satchel-sample-anchor-ru-cyrillic-only"]


def test_an_arabic_script_listing_is_caught(sample_list, bob):
    alerts = user_screen(user=bob, full_name="Khaled Omar Al Nabrawi", birth_date=None)

    assert [a.entry.entity_id for a in alerts] == ["satchel-sample-anchor-ar"]


def test_a_pep_hit_is_a_pep_alert(sample_list, bob):
    (alert,) = user_screen(user=bob, full_name="Ελένη Βλαχάκης", birth_date=date(1972, 6, 9))

    assert (alert.kind, alert.entry.entity_id) == ("pep", "satchel-sample-anchor-pep")


def test_a_different_person_is_not_caught(sample_list, alice):
    assert user_screen(user=alice, full_name="Maria Lindford", birth_date=date(1990, 1, 1)) == []
    assert user_screen(user=alice, full_name="Oleg Petrov", birth_date=None) == []
    assert Alert.objects.count() == 0
    assert ScreeningProfile.objects.get(user=alice).full_name == "Oleg Petrov"


def test_another_birth_year_clears_an_exact_name(sample_list, alice):
    assert (
        user_screen(user=alice, full_name="Igor Valentinovich Zviagorskii", birth_date=date(1990, 1, 1)) == []
    )


def test_screening_again_does_not_repeat_an_open_alert(zviagorskii_alert, alice):
    audit = AuditEntry.objects.count()

    again = user_screen(user=alice, full_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14))

    assert again == [zviagorskii_alert]
    assert Alert.objects.count() == 1
    assert AuditEntry.objects.count() == audit


def test_a_dismissed_hit_comes_back_only_when_the_data_changes(zviagorskii_alert, alice, carol):
    alert_dismiss(alert=zviagorskii_alert, officer=carol, reason="different person: passport checked")

    assert user_screen(user=alice, full_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14)) == []
    (renewed,) = user_screen(user=alice, full_name="Igor V. Zvyagorsky", birth_date=date(1968, 3, 14))
    assert renewed.pk != zviagorskii_alert.pk


def test_bad_input_is_refused(sample_list, alice):
    with pytest.raises(InvalidRequest):
        user_screen(user=alice, full_name="   ", birth_date=None)
    with pytest.raises(InvalidRequest):
        user_screen(user=alice, full_name="A" * 301, birth_date=None)
    with pytest.raises(InvalidRequest):
        user_screen(
            user=alice, full_name="Igor Zvyagorsky", birth_date=timezone.now().date() + timedelta(days=1)
        )
    assert not ScreeningProfile.objects.exists()
    assert not Alert.objects.exists()


def test_a_delisted_entry_no_longer_matches(sample_list, alice):
    entities = [e for e in sample.generate() if e["id"] != "satchel-sample-anchor-ru"]

    watchlist_load(source="sample", lines=[json.dumps(e) for e in entities])

    assert user_screen(user=alice, full_name="Igor Zvyagorsky", birth_date=date(1968, 3, 14)) == []


# --- address_screen -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "blockchain"),
    [
        (sample.ANCHOR_ETH, "Ethereum"),
        (sample.ANCHOR_ETH.lower(), "Ethereum"),
        ("  " + sample.ANCHOR_ETH.upper().replace("0X", "0x"), "Polygon"),
        (sample.ANCHOR_SOL, "Solana"),
        (sample.ANCHOR_BTC.upper(), "Bitcoin"),
    ],
)
def test_a_listed_address_is_caught_whatever_its_case(sample_list, alice, address, blockchain):
    alert = address_screen(address=address, blockchain=blockchain, user=alice, context="test")

    assert alert is not None
    assert (alert.kind, alert.score, alert.subject, alert.status) == ("address", 100, alice, AlertStatus.OPEN)
    assert alert.entry.schema == "CryptoWallet"


def test_a_solana_address_in_another_case_is_another_address(sample_list, alice):
    assert address_screen(address=sample.ANCHOR_SOL.lower(), blockchain="Solana", user=alice) is None
    assert address_screen(address="0x" + "1" * 40, blockchain="Ethereum", user=alice) is None
    assert not Alert.objects.exists()


def test_an_address_without_a_customer_is_one_alert(sample_list):
    first = address_screen(address=sample.ANCHOR_ETH, blockchain="Ethereum")
    second = address_screen(address=sample.ANCHOR_ETH.lower(), blockchain="Ethereum")

    assert first is not None
    assert first.subject is None
    assert second == first


# --- decisions ----------------------------------------------------------------------------------


def test_confirming_freezes_the_account_with_an_audit_trail(zviagorskii_alert, alice, carol):
    alert = alert_confirm(alert=zviagorskii_alert, officer=carol)

    assert (alert.status, alert.decided_by) == (AlertStatus.CONFIRMED, carol)
    assert alert.decided_at is not None
    assert user_is_frozen(alice.pk)
    flag = ComplianceFlag.objects.get(user=alice)
    assert (flag.is_frozen, flag.frozen_by, flag.alert) == (True, carol, alert)
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor"))
    assert actions[-2:] == [("alert.confirm", carol.pk), ("account.freeze", carol.pk)]


def test_dismissing_needs_a_reason_and_records_it(zviagorskii_alert, alice, carol):
    before = state()
    with pytest.raises(InvalidRequest):
        alert_dismiss(alert=zviagorskii_alert, officer=carol, reason="  ")
    assert state() == before

    alert = alert_dismiss(alert=zviagorskii_alert, officer=carol, reason="born elsewhere, other passport")

    assert (alert.status, alert.decision_reason) == (AlertStatus.DISMISSED, "born elsewhere, other passport")
    assert not user_is_frozen(alice.pk)
    entry = AuditEntry.objects.order_by("-id").first()
    assert (entry.action, entry.before, entry.after) == (
        "alert.dismiss",
        {"status": "open"},
        {"status": "dismissed", "reason": "born elsewhere, other passport"},
    )


def test_a_decided_alert_cannot_be_decided_again(zviagorskii_alert, carol):
    alert_dismiss(alert=zviagorskii_alert, officer=carol, reason="false positive")
    before = state()

    with pytest.raises(AlertStateError) as refused:
        alert_confirm(alert=zviagorskii_alert, officer=carol)

    assert refused.value.code == "PRECONDITION_FAILED"
    assert state() == before


def test_only_officers_decide_and_never_about_themselves(zviagorskii_alert, alice, bob, mallory, carol):
    before = state()
    with pytest.raises(Forbidden):
        alert_confirm(alert=zviagorskii_alert, officer=bob)
    with pytest.raises(Forbidden):
        alert_dismiss(alert=zviagorskii_alert, officer=mallory, reason="looks fine to me")
    alice.user_permissions.add(Permission.objects.get(codename="decide_alert"))
    alice_officer = User.objects.get(pk=alice.pk)
    with pytest.raises(Forbidden, match="own account"):
        alert_dismiss(alert=zviagorskii_alert, officer=alice_officer, reason="not me")
    assert state() == before


def test_freeze_and_unfreeze(alice, bob, carol):
    account_freeze(user=alice, officer=carol, reason="court order 12/2025")
    assert user_is_frozen(alice.pk)
    before = state()
    with pytest.raises(Forbidden):
        account_unfreeze(user=alice, officer=bob, reason="please")
    with pytest.raises(InvalidRequest):
        account_unfreeze(user=alice, officer=carol, reason="")
    assert state() == before

    account_unfreeze(user=alice, officer=carol, reason="order lifted")

    assert not user_is_frozen(alice.pk)
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["account.freeze", "account.unfreeze"]
    with pytest.raises(InvalidRequest, match="not frozen"):
        account_unfreeze(user=alice, officer=carol, reason="again")


# --- the withdrawal gate ------------------------------------------------------------------------


@pytest.fixture
def eth(demo_markets):  # type: ignore[no-untyped-def]
    return demo_markets["ETH"]


def withdrawal(user, asset, address):  # type: ignore[no-untyped-def]
    from exchange.models import Withdrawal

    return Withdrawal.objects.create(
        user=user,
        asset=asset,
        blockchain="Ethereum",
        to_address=address,
        quantity=Decimal("1"),
        fee=Decimal("0"),
    )


def test_the_gate_passes_an_ordinary_withdrawal(sample_list, eth, alice):
    assert withdrawal_compliance_reasons(withdrawal(alice, eth, "0x" + "2" * 40)) == []
    assert not Alert.objects.exists()


def test_the_gate_refuses_a_listed_destination_and_raises_an_alert(sample_list, eth, alice):
    pending = withdrawal(alice, eth, sample.ANCHOR_ETH.lower())

    assert withdrawal_compliance_reasons(pending) == [ADDRESS_BLOCKED]

    alert = Alert.objects.get()
    assert (alert.subject, alert.kind, alert.context) == (alice, "address", f"withdrawal:{pending.pk}")


def test_the_gate_keeps_refusing_a_listed_destination_after_a_dismissal(sample_list, eth, alice, carol):
    withdrawal_compliance_reasons(withdrawal(alice, eth, sample.ANCHOR_ETH))
    alert_dismiss(alert=Alert.objects.get(), officer=carol, reason="customer is not the holder")

    assert withdrawal_compliance_reasons(withdrawal(alice, eth, sample.ANCHOR_ETH)) == [ADDRESS_BLOCKED]
    assert Alert.objects.count() == 1  # the decided hit is not raised again


def test_the_gate_refuses_a_frozen_account(sample_list, eth, alice, carol):
    account_freeze(user=alice, officer=carol, reason="confirmed match")

    assert withdrawal_compliance_reasons(withdrawal(alice, eth, "0x" + "2" * 40)) == [ACCOUNT_FROZEN]
    assert withdrawal_compliance_reasons(withdrawal(alice, eth, sample.ANCHOR_ETH)) == [
        ACCOUNT_FROZEN,
        ADDRESS_BLOCKED,
    ]
