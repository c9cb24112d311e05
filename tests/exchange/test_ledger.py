"""The ledger by example: deposits credit exactly and once, overdrafts change nothing, and
`check_ledger` notices a corrupted balance or a lost journal line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from core.errors import InsufficientFunds
from exchange.models import AccountKind, Deposit, EntryKind, JournalEntry, JournalLine, LedgerAccount
from exchange.services.deposits import deposit_credit
from exchange.services.ledger import house_account, ledger_account_get, transfer
from exchange.services.ledger_check import ledger_check


def balances() -> dict[int, Decimal]:
    return dict(LedgerAccount.objects.values_list("pk", "balance"))


def counts() -> tuple[int, int, int]:
    return JournalEntry.objects.count(), JournalLine.objects.count(), Deposit.objects.count()


def test_deposit_credits_exactly(demo_markets, alice):
    btc = demo_markets["BTC"]

    deposit = deposit_credit(
        user_id=alice.pk,
        asset=btc,
        quantity=Decimal("0.12345678"),
        source="bitcoin",
        transaction_hash="aa" * 32,
    )

    available = ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=btc)
    external = house_account(kind=AccountKind.EXTERNAL, asset=btc)
    assert available.balance == Decimal("0.12345678")
    assert external.balance == Decimal("-0.12345678")
    assert deposit.status == "confirmed"
    assert deposit.entry is not None
    assert deposit.entry.kind == EntryKind.DEPOSIT
    assert sorted(deposit.entry.lines.values_list("amount", flat=True)) == [
        Decimal("-0.12345678"),
        Decimal("0.12345678"),
    ]
    assert ledger_check().ok


def test_same_chain_transaction_reported_twice_credits_once(demo_markets, alice):
    usdc = demo_markets["USDC"]
    first = deposit_credit(
        user_id=alice.pk, asset=usdc, quantity=Decimal("250"), source="solana", transaction_hash="sig-1"
    )
    before_balances, before_counts = balances(), counts()

    again = deposit_credit(
        user_id=alice.pk, asset=usdc, quantity=Decimal("250"), source="solana", transaction_hash="sig-1"
    )

    assert again.pk == first.pk
    assert again.entry_id == first.entry_id
    assert balances() == before_balances
    assert counts() == before_counts
    assert ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=usdc).balance == 250


def test_overdraft_is_refused_and_changes_nothing(demo_markets, alice):
    sol = demo_markets["SOL"]
    deposit_credit(user_id=alice.pk, asset=sol, quantity=Decimal("3"), source="administrator")
    available = ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=sol)
    locked = ledger_account_get(owner_id=alice.pk, kind=AccountKind.LOCKED, asset=sol)
    before_balances, before_counts = balances(), counts()

    with pytest.raises(InsufficientFunds) as refused, transaction.atomic():
        transfer(source=available, destination=locked, amount=Decimal("3.00000001"), kind=EntryKind.HOLD)

    assert refused.value.code == "INSUFFICIENT_FUNDS"
    assert balances() == before_balances
    assert counts() == before_counts
    assert ledger_check().ok


@pytest.fixture
def small_ledger(demo_markets, alice, bob):
    """Two deposits and a hold: enough lines for every check to have something to recompute."""
    deposit_credit(user_id=alice.pk, asset=demo_markets["BTC"], quantity=Decimal("1"), source="administrator")
    deposit_credit(user_id=bob.pk, asset=demo_markets["USDC"], quantity=Decimal("1000"), source="ethereum")
    transfer(
        source=ledger_account_get(owner_id=bob.pk, kind=AccountKind.AVAILABLE, asset=demo_markets["USDC"]),
        destination=ledger_account_get(owner_id=bob.pk, kind=AccountKind.LOCKED, asset=demo_markets["USDC"]),
        amount=Decimal("400"),
        kind=EntryKind.HOLD,
    )
    return demo_markets


def test_check_ledger_passes_on_a_clean_ledger(small_ledger, capsys):
    call_command("check_ledger", verbosity=0)

    assert "ledger ok: 3 entries" in capsys.readouterr().out


def test_check_ledger_fails_after_a_balance_is_corrupted(small_ledger, bob):
    account = LedgerAccount.objects.get(owner=bob, kind=AccountKind.LOCKED)
    with connection.cursor() as cursor:
        # Behind the services' back: the stored balance no longer matches its lines.
        cursor.execute("UPDATE exchange_ledgeraccount SET balance = balance + 1 WHERE id = %s", [account.pk])

    with pytest.raises(CommandError, match="ledger check failed"):
        call_command("check_ledger", verbosity=0)
    problems = ledger_check().problems
    assert f"stored balance differs from the sum of its lines: {account.pk}, locked, 401, 400" in problems
    assert "sum of all balances of an asset is not zero: USDC, 1" in problems


def test_check_ledger_fails_after_a_journal_line_is_deleted(small_ledger, alice):
    line = JournalLine.objects.get(account__owner=alice)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM exchange_journalline WHERE id = %s", [line.pk])

    with pytest.raises(CommandError, match="ledger check failed"):
        call_command("check_ledger", verbosity=0)
    problems = ledger_check().problems
    assert f"entry does not sum to zero per asset: {line.entry_id}, BTC, -1" in problems
    assert f"entry with fewer than two lines: {line.entry_id}, 1" in problems
    assert f"stored balance differs from the sum of its lines: {line.account_id}, available, 1, 0" in problems


@pytest.mark.django_db(transaction=True)
def test_check_ledger_outside_a_transaction_uses_its_own_snapshot(demo_markets, alice):
    # The production path: no caller transaction, so the check opens (and ends) its own.
    deposit_credit(user_id=alice.pk, asset=demo_markets["ETH"], quantity=Decimal("2"), source="ethereum")
    assert connection.get_autocommit()

    report = ledger_check()

    assert report.ok, report.problems
    assert report.checked_entries == 1
    assert connection.get_autocommit()
    assert not connection.in_atomic_block
