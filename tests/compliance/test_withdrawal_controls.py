"""Withdrawals under control (issue 5): tier gate and daily EUR limit, 2FA, the address book and
its waiting period, the travel rule (IVMS101), proof of control of self-hosted wallets above
1,000 EUR, four-eyes approval above the threshold, and deposits from flagged addresses held.

Every refusal asserts that balances, withdrawals and journal entries did not change.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import Alert, AuditEntry, TravelRuleRecord
from compliance.roles import COMPLIANCE_OFFICER, SUPPORT_AGENT
from compliance.rules.ivms101 import ivms101_problems
from compliance.services.audit import audit_verify
from core.errors import Forbidden, InvalidQuantity, InvalidRequest
from exchange.chain.addresses import base58_encode
from exchange.chain.simulated_withdrawals import SimulatedChain
from exchange.models import (
    Deposit,
    DepositStatus,
    JournalEntry,
    LedgerAccount,
    WalletOwnership,
    Withdrawal,
    WithdrawalAddress,
    WithdrawalStatus,
)
from exchange.services.deposits import DepositStateError, deposit_credit, deposit_reject, deposit_release
from exchange.services.ledger_check import ledger_check
from exchange.services.withdrawal_addresses import withdrawal_address_add, withdrawal_address_proof_start
from exchange.services.withdrawals import (
    WithdrawalStateError,
    withdrawal_advance,
    withdrawal_officer_approve,
    withdrawal_officer_reject,
    withdrawal_request,
)

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
OWN_WALLET = base58_encode(hashlib.sha256(b"alice's own wallet").digest())
FRIEND_AT_VASP = base58_encode(hashlib.sha256(b"a friend's account at another exchange").digest())
BLOCKED_SOLANA = "CJt61ccg8KMdhh4sKssc7ZGU1YKJMmfS3AdBDMpBBMYb"  # in the sample list


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def funded(demo_markets, alice, clock, settings):
    """alice (full KYC) with 60,000 USDC and an authenticator; USDC at 1 EUR (EUR/USD 1)."""
    settings.VALUATION_EUR_USD_RATE = "1"
    settings.WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR = "10000"
    TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)
    deposit_credit(user_id=alice.pk, asset=demo_markets["USDC"], quantity=Decimal("60000"), source="solana")
    return demo_markets


def staff(email: str, role: str):  # type: ignore[no-untyped-def]
    from accounts.models import User

    user = User.objects.create_user(email, "staff-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def carol(db):  # type: ignore[no-untyped-def]
    return staff("carol@example.com", COMPLIANCE_OFFICER)


@pytest.fixture
def dave(db):  # type: ignore[no-untyped-def]
    return staff("dave@example.com", COMPLIANCE_OFFICER)


@pytest.fixture
def sam(db):  # type: ignore[no-untyped-def]
    return staff("sam@example.com", SUPPORT_AGENT)


def fresh_code(user) -> str:  # type: ignore[no-untyped-def]
    """A current code; time stands still here and a code is accepted once per 30-second step."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    return f"{totp(device.bin_key):06d}"


def request(user, **overrides: object) -> Withdrawal:  # type: ignore[no-untyped-def]
    arguments: dict[str, object] = {
        "user": user,
        "asset_symbol": "USDC",
        "blockchain": "Solana",
        "address": OWN_WALLET,
        "quantity": Decimal("10"),
    }
    arguments.update(overrides)
    if "two_factor_token" not in overrides:
        arguments["two_factor_token"] = fresh_code(user)
    return withdrawal_request(**arguments)  # type: ignore[arg-type]


def snapshot() -> tuple[object, ...]:
    return (
        dict(LedgerAccount.objects.values_list("pk", "balance")),
        JournalEntry.objects.count(),
        list(
            Withdrawal.objects.order_by("pk").values_list(
                "pk", "status", "first_approved_by", "second_approved_by"
            )
        ),
        list(Deposit.objects.order_by("pk").values_list("pk", "status")),
    )


def usdc(user) -> tuple[Decimal, Decimal]:  # type: ignore[no-untyped-def]
    rows = dict(LedgerAccount.objects.filter(owner=user, asset__symbol="USDC").values_list("kind", "balance"))
    return rows.get("available", Decimal(0)), rows.get("locked", Decimal(0))


def book(user, address: str = OWN_WALLET, *, proven: bool = False, **fields: str) -> WithdrawalAddress:  # type: ignore[no-untyped-def]
    """An address-book entry already past its waiting period (added a day before T0)."""
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        entry = withdrawal_address_add(
            user=user,
            blockchain="Solana",
            address=address,
            ownership=fields.pop("ownership", WalletOwnership.SELF_HOSTED),
            **fields,
        )
    if proven:
        WithdrawalAddress.objects.filter(pk=entry.pk).update(proof_verified_at=T0 - timedelta(hours=1))
        entry.refresh_from_db()
    return entry


def vasp_entry(user):  # type: ignore[no-untyped-def]
    return book(
        user,
        FRIEND_AT_VASP,
        ownership=WalletOwnership.VASP,
        vasp_name="Example Exchange GmbH",
        vasp_lei="529900T8BM49AURSDO55",
        beneficiary_name="Bea Beispiel",
    )


def assert_ledger_ok() -> None:
    report = ledger_check()
    assert report.ok, report.problems


# --- tier, 2FA, daily limit ---------------------------------------------------------------------


def test_an_unverified_customer_cannot_withdraw(funded, bob):
    deposit_credit(user_id=bob.pk, asset=funded["USDC"], quantity=Decimal("50"), source="solana")
    TOTPDevice.objects.create(user=bob, name="Authenticator app", confirmed=True)
    before = snapshot()

    with pytest.raises(Forbidden) as refused:
        request(bob)

    assert refused.value.message == "Complete full verification to withdraw"
    assert snapshot() == before
    assert not WithdrawalAddress.objects.filter(user=bob).exists()


def test_every_withdrawal_needs_two_factor_authentication(funded, alice):
    book(alice)
    TOTPDevice.objects.filter(user=alice).delete()
    before = snapshot()

    with pytest.raises(InvalidRequest) as refused:
        request(alice, two_factor_token="123456")

    assert refused.value.code == "TWO_FACTOR_REQUIRED"
    assert "set up an authenticator app" in refused.value.message
    assert snapshot() == before


def test_the_daily_eur_limit_of_the_tier_counts_the_last_24_hours(funded, alice, clock, settings):
    settings.WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR = "100000"
    vasp_entry(alice)
    request(alice, address=FRIEND_AT_VASP, quantity=Decimal("30000"))
    clock.shift(timedelta(hours=23))
    before = snapshot()

    with pytest.raises(InvalidQuantity) as refused:
        request(alice, address=FRIEND_AT_VASP, quantity=Decimal("25000"))

    assert refused.value.message == (
        "Daily withdrawal limit exceeded: 50,000.00 EUR per 24 hours for your verification level; "
        "30,000.00 EUR used, this withdrawal is worth 25,000.00 EUR"
    )
    assert snapshot() == before
    # Up to the limit is fine, and a day after the first one its value no longer counts.
    assert (
        request(alice, address=FRIEND_AT_VASP, quantity=Decimal("20000")).status == WithdrawalStatus.REQUESTED
    )
    clock.shift(timedelta(hours=1, seconds=1))
    assert request(alice, address=FRIEND_AT_VASP, quantity=Decimal("9000")).value_eur == Decimal("9000.00")


def test_a_rejected_withdrawal_gives_its_limit_back(funded, alice, carol, settings):
    settings.WITHDRAWAL_FOUR_EYES_THRESHOLD_EUR = "100000"
    vasp_entry(alice)
    first = request(alice, address=FRIEND_AT_VASP, quantity=Decimal("45000"))
    withdrawal_officer_reject(withdrawal_id=first.pk, officer=carol, reason="customer asked to cancel")

    second = request(alice, address=FRIEND_AT_VASP, quantity=Decimal("45000"))

    assert second.status == WithdrawalStatus.REQUESTED


# --- the address book ---------------------------------------------------------------------------


def test_a_new_address_waits_24_hours_and_the_request_says_until_when(funded, alice, clock):
    before = snapshot()

    with pytest.raises(InvalidRequest) as refused:
        request(alice)

    assert refused.value.message == (
        f"Address {OWN_WALLET} was added to your address book on 2026-03-02 09:00 UTC; for your "
        "security it can be used from 2026-03-03 09:00 UTC"
    )
    assert snapshot() == before
    entry = WithdrawalAddress.objects.get(user=alice)
    assert (entry.address, entry.ownership, entry.usable_from) == (
        OWN_WALLET,
        WalletOwnership.SELF_HOSTED,
        T0 + timedelta(hours=24),
    )
    clock.shift(timedelta(hours=23, minutes=59))
    with pytest.raises(InvalidRequest):
        request(alice)
    assert snapshot() == before

    clock.shift(timedelta(minutes=1))
    withdrawal = request(alice)

    assert (withdrawal.status, withdrawal.address_entry_id) == (WithdrawalStatus.REQUESTED, entry.pk)
    assert usdc(alice) == (Decimal("59989"), Decimal("11"))


def test_the_waiting_period_is_a_setting(funded, alice, settings):
    settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = timedelta(0)

    assert request(alice).status == WithdrawalStatus.REQUESTED


def test_a_wrong_code_adds_nothing_to_the_address_book(funded, alice):
    before = snapshot()

    with pytest.raises(InvalidRequest) as refused:
        request(alice, two_factor_token="000000")

    assert refused.value.code == "INVALID_TWO_FACTOR_CODE"
    assert not WithdrawalAddress.objects.exists()
    assert snapshot() == before


def test_an_entry_at_another_provider_names_provider_and_beneficiary(funded, alice):
    with pytest.raises(InvalidRequest) as refused:
        withdrawal_address_add(
            user=alice, blockchain="Solana", address=FRIEND_AT_VASP, ownership=WalletOwnership.VASP
        )

    assert refused.value.message == (
        "An address at another provider needs the provider's and the beneficiary's name"
    )
    assert not WithdrawalAddress.objects.exists()


# --- travel rule ----------------------------------------------------------------------------------


def test_a_transfer_to_another_provider_carries_a_complete_ivms101_record(funded, alice):
    vasp_entry(alice)

    withdrawal = request(alice, address=FRIEND_AT_VASP, quantity=Decimal("100"))

    record = TravelRuleRecord.objects.get(withdrawal=withdrawal)
    payload = record.payload
    assert (record.beneficiary_ownership, record.beneficiary_vasp) == ("vasp", "Example Exchange GmbH")
    assert payload["originator"] == {
        "originatorPersons": [
            {
                "naturalPerson": {
                    "name": {
                        "nameIdentifier": [
                            {"primaryIdentifier": "alice@example.com", "nameIdentifierType": "LEGL"}
                        ]
                    },
                    "customerIdentification": f"satchel-{alice.pk}",
                }
            }
        ],
        "accountNumber": [f"satchel-{alice.pk}"],
    }
    assert payload["beneficiary"] == {
        "beneficiaryPersons": [
            {
                "naturalPerson": {
                    "name": {
                        "nameIdentifier": [
                            {
                                "primaryIdentifier": "Beispiel",
                                "secondaryIdentifier": "Bea",
                                "nameIdentifierType": "LEGL",
                            }
                        ]
                    }
                }
            }
        ],
        "accountNumber": [FRIEND_AT_VASP],
    }
    assert payload["beneficiaryVASP"]["beneficiaryVASP"]["legalPerson"]["nationalIdentification"] == {
        "nationalIdentifier": "529900T8BM49AURSDO55",
        "nationalIdentifierType": "LEIX",
    }
    assert ivms101_problems(payload, to_vasp=True, today=T0.date()) == []


def test_a_self_hosted_transfer_names_the_customer_as_beneficiary_and_no_vasp(funded, alice):
    book(alice)

    withdrawal = request(alice)

    payload = withdrawal.travel_rule_record.payload
    assert "beneficiaryVASP" not in payload
    assert payload["beneficiary"]["accountNumber"] == [OWN_WALLET]
    assert ivms101_problems(payload, to_vasp=False, today=T0.date()) == []


def test_the_ivms101_check_finds_what_is_missing():
    payload = {
        "originator": {
            "originatorPersons": [
                {
                    "naturalPerson": {
                        "name": {
                            "nameIdentifier": [{"primaryIdentifier": "Doe", "nameIdentifierType": "NICK"}]
                        }
                    }
                }
            ],
            "accountNumber": [],
        },
        "beneficiary": {"beneficiaryPersons": [], "accountNumber": ["x"]},
        "originatingVASP": {
            "originatingVASP": {
                "legalPerson": {
                    "name": {
                        "nameIdentifier": [
                            {"legalPersonName": "Satchel", "legalPersonNameIdentifierType": "LEGL"}
                        ]
                    },
                    "nationalIdentification": {"nationalIdentifier": "123", "nationalIdentifierType": "LEIX"},
                }
            }
        },
    }

    assert ivms101_problems(payload, to_vasp=True, today=T0.date()) == [
        "originator.originatorPersons[0].naturalPerson.name[0]: nameIdentifierType not one of "
        "['ALIA', 'BIRT', 'LEGL', 'MAID']",
        "originator.originatorPersons[0].naturalPerson.name: no legal name (LEGL)",
        "originator.originatorPersons[0].naturalPerson: needs an address, an official document number, "
        "a customer identification number, or a date and place of birth",
        "originator.accountNumber: the DLT address is required",
        "beneficiary.beneficiaryPersons: at least one person is required",
        "originatingVASP.legalPerson.nationalIdentification: not a 20-character LEI",
        "beneficiaryVASP: a transfer to another provider names it",
    ]


# --- proof of control above 1,000 EUR -------------------------------------------------------------


def test_above_1000_eur_a_self_hosted_wallet_needs_proof_of_control(funded, alice):
    entry = book(alice)
    assert request(alice, quantity=Decimal("1000")).status == WithdrawalStatus.REQUESTED  # not above
    before = snapshot()

    with pytest.raises(InvalidRequest) as refused:
        request(alice, quantity=Decimal("1000.01"))

    assert refused.value.message.startswith(
        "This withdrawal is worth 1,000.01 EUR: above 1,000 EUR to a self-hosted wallet you must first "
        f"prove you control {OWN_WALLET}"
    )
    assert snapshot() == before
    assert not WithdrawalAddress.objects.get(pk=entry.pk).is_proven


def test_a_satoshi_test_from_the_address_proves_control(funded, alice):
    entry = book(alice)
    challenge = withdrawal_address_proof_start(user=alice, entry_id=entry.pk, asset_symbol="USDC")
    # A deposit of another amount, or from another address, proves nothing.
    deposit_credit(
        user_id=alice.pk,
        asset=funded["USDC"],
        quantity=challenge.proof_quantity + Decimal("0.000001"),
        source="solana",
        transaction_hash="tx-other-amount",
        from_address=OWN_WALLET,
    )
    deposit_credit(
        user_id=alice.pk,
        asset=funded["USDC"],
        quantity=challenge.proof_quantity,
        source="solana",
        transaction_hash="tx-other-sender",
        from_address=FRIEND_AT_VASP,
    )
    assert not WithdrawalAddress.objects.get(pk=entry.pk).is_proven

    deposit_credit(
        user_id=alice.pk,
        asset=funded["USDC"],
        quantity=challenge.proof_quantity,
        source="solana",
        transaction_hash="tx-satoshi-test",
        from_address=OWN_WALLET,
    )

    proven = WithdrawalAddress.objects.get(pk=entry.pk)
    assert proven.is_proven
    assert proven.proof_evidence.endswith("tx-satoshi-test")
    assert request(alice, quantity=Decimal("5000")).status == WithdrawalStatus.REQUESTED
    assert AuditEntry.objects.filter(action="withdrawal_address.proof", object_id=str(entry.pk)).exists()
    assert_ledger_ok()


# --- four-eyes --------------------------------------------------------------------------------------


def test_above_the_threshold_a_withdrawal_waits_for_two_different_officers(funded, alice, carol, dave):
    vasp_entry(alice)
    withdrawal = request(alice, address=FRIEND_AT_VASP, quantity=Decimal("20000"))
    chain = SimulatedChain()

    held = withdrawal_advance(withdrawal_id=withdrawal.pk, chain=chain)
    assert held.status == WithdrawalStatus.HELD
    assert withdrawal_advance(withdrawal_id=withdrawal.pk, chain=chain).status == WithdrawalStatus.HELD

    first = withdrawal_officer_approve(withdrawal_id=withdrawal.pk, officer=carol)
    assert (first.status, first.first_approved_by_id) == (WithdrawalStatus.HELD, carol.pk)
    before = snapshot()
    with pytest.raises(Forbidden) as same_officer:
        withdrawal_officer_approve(withdrawal_id=withdrawal.pk, officer=carol)
    assert same_officer.value.message == "A second, different officer must give the second approval"
    assert snapshot() == before

    second = withdrawal_officer_approve(withdrawal_id=withdrawal.pk, officer=dave)
    assert (second.status, second.second_approved_by_id) == (WithdrawalStatus.REQUESTED, dave.pk)
    done = withdrawal_advance(withdrawal_id=withdrawal.pk, chain=chain)

    assert done.status == WithdrawalStatus.CONFIRMED
    assert usdc(alice) == (Decimal("39999"), Decimal("0"))
    assert list(
        AuditEntry.objects.filter(object_type="exchange.withdrawal", object_id=str(withdrawal.pk))
        .order_by("id")
        .values_list("action", "actor_id")
    ) == [
        ("withdrawal.hold", None),
        ("withdrawal.approve_first", carol.pk),
        ("withdrawal.approve_second", dave.pk),
    ]
    assert audit_verify().ok
    assert_ledger_ok()


def test_below_the_threshold_no_officer_is_needed(funded, alice):
    vasp_entry(alice)
    withdrawal = request(alice, address=FRIEND_AT_VASP, quantity=Decimal("10000"))

    assert (
        withdrawal_advance(withdrawal_id=withdrawal.pk, chain=SimulatedChain()).status
        == WithdrawalStatus.CONFIRMED
    )


@pytest.fixture
def held(funded, alice):  # type: ignore[no-untyped-def]
    vasp_entry(alice)
    withdrawal = request(alice, address=FRIEND_AT_VASP, quantity=Decimal("20000"))
    return withdrawal_advance(withdrawal_id=withdrawal.pk, chain=SimulatedChain())


def test_the_requester_can_never_approve_their_own_withdrawal(held, alice):
    # Even a customer who is also a compliance officer.
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    alice.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    from accounts.models import User

    alice = User.objects.get(pk=alice.pk)
    before = snapshot()

    with pytest.raises(Forbidden) as refused:
        withdrawal_officer_approve(withdrawal_id=held.pk, officer=alice)

    assert refused.value.message == "Nobody may approve or reject their own withdrawal"
    assert snapshot() == before


def test_support_agents_cannot_approve_or_reject(held, sam):
    before = snapshot()

    with pytest.raises(Forbidden):
        withdrawal_officer_approve(withdrawal_id=held.pk, officer=sam)
    with pytest.raises(Forbidden):
        withdrawal_officer_reject(withdrawal_id=held.pk, officer=sam, reason="no")

    assert snapshot() == before


def test_an_officer_rejects_a_held_withdrawal_and_the_funds_go_back(held, alice, carol):
    rejected = withdrawal_officer_reject(
        withdrawal_id=held.pk, officer=carol, reason="Source of funds unclear"
    )

    assert (rejected.status, rejected.reason) == (WithdrawalStatus.REJECTED, "Source of funds unclear")
    assert usdc(alice) == (Decimal("60000"), Decimal("0"))
    entry = AuditEntry.objects.filter(action="withdrawal.reject").get()
    assert (entry.actor_id, entry.before, entry.after) == (
        carol.pk,
        {"status": "held"},
        {"status": "rejected", "reason": "Source of funds unclear"},
    )
    with pytest.raises(WithdrawalStateError):
        withdrawal_officer_approve(withdrawal_id=held.pk, officer=carol)
    assert_ledger_ok()


# --- deposits from flagged addresses ------------------------------------------------------------------


@pytest.fixture
def flagged_deposit(funded, alice, sample_list):  # type: ignore[no-untyped-def]
    return deposit_credit(
        user_id=alice.pk,
        asset=funded["USDC"],
        quantity=Decimal("500"),
        source="solana",
        transaction_hash="tx-from-a-listed-wallet",
        from_address=BLOCKED_SOLANA,
    )


def test_a_deposit_from_a_listed_address_is_held_not_credited(flagged_deposit, alice):
    assert (flagged_deposit.status, flagged_deposit.entry_id) == (DepositStatus.HELD, None)
    assert usdc(alice) == (Decimal("60000"), Decimal("0"))
    alert = Alert.objects.get(subject=alice, kind="address")
    assert (alert.address, alert.context) == (BLOCKED_SOLANA, f"deposit:{flagged_deposit.pk}")
    assert_ledger_ok()


def test_an_officer_releases_a_held_deposit(flagged_deposit, alice, carol):
    released = deposit_release(
        deposit_id=flagged_deposit.pk, officer=carol, reason="Wallet delisted: checked"
    )

    assert (released.status, released.reviewed_by_id) == (DepositStatus.CONFIRMED, carol.pk)
    assert usdc(alice) == (Decimal("60500"), Decimal("0"))
    assert AuditEntry.objects.filter(action="deposit.release", actor=carol).count() == 1
    assert_ledger_ok()


def test_an_officer_rejects_a_held_deposit_and_it_is_never_credited(flagged_deposit, alice, carol):
    rejected = deposit_reject(deposit_id=flagged_deposit.pk, officer=carol, reason="Sanctioned wallet")
    before = snapshot()

    with pytest.raises(DepositStateError) as again:
        deposit_release(deposit_id=flagged_deposit.pk, officer=carol, reason="changed my mind")

    assert again.value.message == f"Deposit {flagged_deposit.pk} is declined: it is not held for review"
    assert rejected.status == DepositStatus.DECLINED
    assert usdc(alice) == (Decimal("60000"), Decimal("0"))
    assert snapshot() == before
    assert_ledger_ok()


def test_support_agents_cannot_release_held_deposits(flagged_deposit, sam):
    before = snapshot()

    with pytest.raises(Forbidden):
        deposit_release(deposit_id=flagged_deposit.pk, officer=sam, reason="looks fine")

    assert snapshot() == before
