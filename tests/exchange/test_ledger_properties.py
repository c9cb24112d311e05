"""Ledger invariants under random sequences of postings, on the real database.

A hypothesis state machine runs deposits, holds, releases, transfers between users, fees and
deliberately invalid postings over three users and the demo assets, and keeps its own model of
every balance. After every step: `ledger_check` finds nothing, each asset's balances sum to zero,
the funds inside equal the confirmed deposits, and the database agrees with the model. After every
refused posting, balances and the number of entries, lines and deposits are exactly as before.

Each example runs in a savepoint that is rolled back in `teardown`, so examples start from the same
empty ledger inside the test's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from itertools import count

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.errors import InsufficientFunds, InvalidAsset, InvalidQuantity, LedgerImbalance
from core.money import quantise
from exchange.models import (
    AccountKind,
    Asset,
    AssetToken,
    Deposit,
    DepositStatus,
    EntryKind,
    JournalEntry,
    JournalLine,
    LedgerAccount,
)
from exchange.services.deposits import deposit_credit
from exchange.services.ledger import Line, ledger_account_get, ledger_post, transfer
from exchange.services.ledger_check import ledger_check

SYMBOLS = ["BTC", "ETH", "SOL", "USDC"]
USER_INDEXES = st.integers(min_value=0, max_value=2)
# Units of the asset's step: up to 100 BTC/ETH/SOL, 10 000 USDC.
UNITS = st.integers(min_value=1, max_value=10**10)
# Share of the source balance to move; past 100 it is an overdraft the ledger must refuse.
PERCENT = st.integers(min_value=0, max_value=130)
# (owner id or None for house accounts, kind, asset symbol)
AccountKey = tuple[int | None, str, str]

LEDGER_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def snapshot() -> tuple[dict[int, Decimal], int, int, int]:
    return (
        dict(LedgerAccount.objects.values_list("pk", "balance")),
        JournalEntry.objects.count(),
        JournalLine.objects.count(),
        Deposit.objects.count(),
    )


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, user_ids: list[int], assets: dict[str, Asset], chains: dict[str, list[str]]) -> None:
        super().__init__()
        self.user_ids = user_ids
        self.assets = assets
        self.chains = chains  # symbol -> deposit sources ("solana", ...)
        self.expected: dict[AccountKey, Decimal] = defaultdict(Decimal)
        self.deposited: dict[str, Decimal] = defaultdict(Decimal)
        self.chain_deposits: list[tuple[str, str, int]] = []  # (source, transaction hash, deposit id)
        self.keyed_entries: list[tuple[str, list[Line], int]] = []  # (idempotency key, lines, entry id)
        self.sequence = count()
        # Rolled back in teardown: every example starts from the ledger the test started with.
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    # Helpers -----------------------------------------------------------------------------------

    def account(self, user: int | None, kind: str, symbol: str) -> LedgerAccount:
        owner_id = None if user is None else self.user_ids[user]
        return ledger_account_get(owner_id=owner_id, kind=kind, asset=self.assets[symbol])

    def key(self, user: int | None, kind: str, symbol: str) -> AccountKey:
        return (None if user is None else self.user_ids[user], kind, symbol)

    def amount_of(self, balance: Decimal, percent: int, symbol: str) -> Decimal:
        step = self.assets[symbol].step
        amount = quantise(balance * percent / 100, step, ROUND_DOWN)
        return amount if amount > 0 else step

    def refused(self, error: type[Exception], call: Callable[[], object]) -> None:
        """`call` raises `error` and leaves every balance and row count as it was."""
        before = snapshot()
        # The savepoint keeps the test's transaction usable whatever the failure did.
        with pytest.raises(error), transaction.atomic():
            call()
        assert snapshot() == before

    def move(
        self,
        source: tuple[int | None, str],
        destination: tuple[int | None, str],
        symbol: str,
        percent: int,
        kind: str,
    ) -> None:
        """Transfer `percent` of the source balance; past 100 percent the ledger must refuse it."""
        source_key, destination_key = self.key(*source, symbol), self.key(*destination, symbol)
        amount = self.amount_of(self.expected[source_key], percent, symbol)
        debit, credit = self.account(*source, symbol), self.account(*destination, symbol)
        if amount > self.expected[source_key]:
            self.refused(
                InsufficientFunds,
                lambda: transfer(source=debit, destination=credit, amount=amount, kind=kind),
            )
            return
        entry = transfer(source=debit, destination=credit, amount=amount, kind=kind)
        assert entry.kind == kind
        self.expected[source_key] -= amount
        self.expected[destination_key] += amount

    # Valid operations --------------------------------------------------------------------------

    @initialize(
        deposits=st.lists(
            st.tuples(USER_INDEXES, st.sampled_from(SYMBOLS), UNITS, st.booleans()), min_size=1, max_size=5
        ),
        percent=st.integers(1, 100),
    )
    def fund(self, deposits: list[tuple[int, str, int, bool]], percent: int) -> None:
        # Funds, a chain deposit and a keyed entry from the start, so moves mostly succeed and both
        # replay rules can run in every example.
        for position, (user, symbol, units, on_chain) in enumerate(deposits):
            self.deposit(user=user, symbol=symbol, units=units, on_chain=on_chain or position == 0)
        user, symbol = deposits[0][:2]
        self.hold_with_key(user=user, symbol=symbol, percent=percent)

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), units=UNITS, on_chain=st.booleans())
    def deposit(self, user: int, symbol: str, units: int, on_chain: bool) -> None:
        quantity = units * self.assets[symbol].step
        source, transaction_hash = "administrator", None
        if on_chain:
            source, transaction_hash = (
                self.chains[symbol][units % len(self.chains[symbol])],
                f"tx-{next(self.sequence)}",
            )
        deposit = deposit_credit(
            user_id=self.user_ids[user],
            asset=self.assets[symbol],
            quantity=quantity,
            source=source,
            transaction_hash=transaction_hash,
        )
        assert deposit.quantity == quantity
        assert deposit.status == DepositStatus.CONFIRMED
        if transaction_hash is not None:
            self.chain_deposits.append((source, transaction_hash, deposit.pk))
        self.expected[self.key(user, AccountKind.AVAILABLE, symbol)] += quantity
        self.expected[self.key(None, AccountKind.EXTERNAL, symbol)] -= quantity
        self.deposited[symbol] += quantity

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), percent=PERCENT)
    def hold(self, user: int, symbol: str, percent: int) -> None:
        self.move((user, AccountKind.AVAILABLE), (user, AccountKind.LOCKED), symbol, percent, EntryKind.HOLD)

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), percent=PERCENT)
    def release(self, user: int, symbol: str, percent: int) -> None:
        self.move(
            (user, AccountKind.LOCKED), (user, AccountKind.AVAILABLE), symbol, percent, EntryKind.RELEASE
        )

    @rule(sender=USER_INDEXES, offset=st.integers(1, 2), symbol=st.sampled_from(SYMBOLS), percent=PERCENT)
    def pay(self, sender: int, offset: int, symbol: str, percent: int) -> None:
        receiver = (sender + offset) % len(self.user_ids)
        self.move(
            (sender, AccountKind.AVAILABLE),
            (receiver, AccountKind.AVAILABLE),
            symbol,
            percent,
            EntryKind.TRANSFER,
        )

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), percent=PERCENT)
    def charge_fee(self, user: int, symbol: str, percent: int) -> None:
        self.move((user, AccountKind.AVAILABLE), (None, AccountKind.FEES), symbol, percent, EntryKind.FEE)

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), percent=st.integers(1, 100))
    def hold_with_key(self, user: int, symbol: str, percent: int) -> None:
        available_key = self.key(user, AccountKind.AVAILABLE, symbol)
        if self.expected[available_key] == 0:
            return
        amount = self.amount_of(self.expected[available_key], percent, symbol)
        lines = [
            Line(self.account(user, AccountKind.AVAILABLE, symbol), -amount),
            Line(self.account(user, AccountKind.LOCKED, symbol), amount),
        ]
        idempotency_key = f"hold:{next(self.sequence)}"
        entry = ledger_post(kind=EntryKind.HOLD, lines=lines, idempotency_key=idempotency_key)
        assert entry.idempotency_key == idempotency_key
        self.keyed_entries.append((idempotency_key, lines, entry.pk))
        self.expected[available_key] -= amount
        self.expected[self.key(user, AccountKind.LOCKED, symbol)] += amount

    # Replays: the same command twice posts once -------------------------------------------------

    @precondition(lambda self: self.keyed_entries)
    @rule(data=st.data())
    def replay_idempotency_key(self, data: st.DataObject) -> None:
        idempotency_key, lines, entry_id = data.draw(st.sampled_from(self.keyed_entries))
        before = snapshot()

        entry = ledger_post(kind=EntryKind.HOLD, lines=lines, idempotency_key=idempotency_key)

        assert entry.pk == entry_id
        assert snapshot() == before

    @precondition(lambda self: self.chain_deposits)
    @rule(data=st.data(), units=UNITS)
    def replay_chain_deposit(self, data: st.DataObject, units: int) -> None:
        source, transaction_hash, deposit_id = data.draw(st.sampled_from(self.chain_deposits))
        first = Deposit.objects.get(pk=deposit_id)
        before = snapshot()

        # Even reported with another amount or user, a chain transaction is credited once.
        again = deposit_credit(
            user_id=self.user_ids[0],
            asset=first.asset,
            quantity=units * first.asset.step,
            source=source,
            transaction_hash=transaction_hash,
        )

        assert again.pk == first.pk
        assert (again.quantity, again.user_id, again.entry_id) == (
            first.quantity,
            first.user_id,
            first.entry_id,
        )
        assert snapshot() == before

    # Refusals: each leaves the ledger exactly as it was -----------------------------------------

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), units=UNITS, excess=st.integers(-3, 3))
    def unbalanced_lines(self, user: int, symbol: str, units: int, excess: int) -> None:
        step = self.assets[symbol].step
        amount = units * step
        lines = [
            Line(self.account(user, AccountKind.AVAILABLE, symbol), -amount),
            Line(self.account(user, AccountKind.LOCKED, symbol), amount + (excess or 1) * step),
        ]
        self.refused(LedgerImbalance, lambda: ledger_post(kind=EntryKind.ADJUSTMENT, lines=lines))

    @rule(user=USER_INDEXES, symbols=st.permutations(SYMBOLS), units=UNITS)
    def lines_balanced_across_assets_only(self, user: int, symbols: list[str], units: int) -> None:
        # -x of one asset against +x of another sums to zero overall but not per asset.
        first, second = symbols[:2]
        amount = units * max(self.assets[first].step, self.assets[second].step)
        lines = [
            Line(self.account(user, AccountKind.AVAILABLE, first), -amount),
            Line(self.account(None, AccountKind.FEES, second), amount),
        ]
        self.refused(LedgerImbalance, lambda: ledger_post(kind=EntryKind.TRADE, lines=lines))

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), units=UNITS, single=st.booleans())
    def one_line_or_zero_lines(self, user: int, symbol: str, units: int, single: bool) -> None:
        available = self.account(user, AccountKind.AVAILABLE, symbol)
        if single:
            lines = [Line(available, units * self.assets[symbol].step)]
        else:
            lines = [
                Line(available, Decimal(0)),
                Line(self.account(user, AccountKind.LOCKED, symbol), Decimal(0)),
            ]
        self.refused(LedgerImbalance, lambda: ledger_post(kind=EntryKind.ADJUSTMENT, lines=lines))

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), extra=st.integers(1, 10))
    def overdraft(self, user: int, symbol: str, extra: int) -> None:
        amount = (
            self.expected[self.key(user, AccountKind.AVAILABLE, symbol)] + extra * self.assets[symbol].step
        )
        available = self.account(user, AccountKind.AVAILABLE, symbol)
        fees = self.account(None, AccountKind.FEES, symbol)
        self.refused(
            InsufficientFunds,
            lambda: transfer(source=available, destination=fees, amount=amount, kind=EntryKind.FEE),
        )

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), units=UNITS, digit=st.integers(1, 9))
    def too_many_decimals(self, user: int, symbol: str, units: int, digit: int) -> None:
        step = self.assets[symbol].step
        amount = units * step + digit * step / 10
        available = self.account(user, AccountKind.AVAILABLE, symbol)
        locked = self.account(user, AccountKind.LOCKED, symbol)
        self.refused(
            InvalidQuantity,
            lambda: transfer(source=available, destination=locked, amount=amount, kind=EntryKind.HOLD),
        )
        self.refused(
            InvalidQuantity,
            lambda: deposit_credit(
                user_id=self.user_ids[user],
                asset=self.assets[symbol],
                quantity=amount,
                source="administrator",
            ),
        )

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), units=st.integers(-(10**6), 0))
    def non_positive_deposit(self, user: int, symbol: str, units: int) -> None:
        quantity = units * self.assets[symbol].step
        self.refused(
            InvalidQuantity,
            lambda: deposit_credit(
                user_id=self.user_ids[user],
                asset=self.assets[symbol],
                quantity=quantity,
                source="administrator",
            ),
        )

    @rule(user=USER_INDEXES, symbol=st.sampled_from(SYMBOLS), units=UNITS)
    def deposit_on_a_chain_without_the_token(self, user: int, symbol: str, units: int) -> None:
        source = next(s for s in ("bitcoin", "ethereum", "solana") if s not in self.chains[symbol])
        quantity = units * self.assets[symbol].step
        self.refused(
            InvalidAsset,
            lambda: deposit_credit(
                user_id=self.user_ids[user],
                asset=self.assets[symbol],
                quantity=quantity,
                source=source,
                transaction_hash=f"tx-{next(self.sequence)}",
            ),
        )

    # Invariants, checked after every step ---------------------------------------------------------

    @invariant()
    def ledger_check_finds_nothing(self) -> None:
        report = ledger_check()
        assert report.ok, report.problems

    @invariant()
    def every_asset_sums_to_zero(self) -> None:
        totals = LedgerAccount.objects.values("asset__symbol").annotate(total=Sum("balance"))
        assert {row["asset__symbol"]: row["total"] for row in totals if row["total"] != 0} == {}

    @invariant()
    def funds_inside_equal_confirmed_deposits(self) -> None:
        inside = dict(
            LedgerAccount.objects.exclude(kind=AccountKind.EXTERNAL)
            .values("asset__symbol")
            .annotate(total=Sum("balance"))
            .values_list("asset__symbol", "total")
        )
        deposits = dict(
            Deposit.objects.filter(status=DepositStatus.CONFIRMED)
            .values("asset__symbol")
            .annotate(total=Sum("quantity"))
            .values_list("asset__symbol", "total")
        )
        for symbol in SYMBOLS:
            assert inside.get(symbol, 0) == deposits.get(symbol, 0) == self.deposited[symbol], symbol

    @invariant()
    def balances_match_the_model(self) -> None:
        actual = {
            (owner_id, kind, symbol): balance
            for owner_id, kind, symbol, balance in LedgerAccount.objects.exclude(balance=0).values_list(
                "owner_id", "kind", "asset__symbol", "balance"
            )
        }
        assert actual == {key: balance for key, balance in self.expected.items() if balance != 0}


def test_ledger_invariants_hold_under_random_operations(demo_markets, alice, bob, mallory):
    chains: dict[str, list[str]] = defaultdict(list)
    for symbol, blockchain in AssetToken.objects.values_list("asset__symbol", "blockchain"):
        chains[symbol].append(blockchain.lower())
    user_ids = [alice.pk, bob.pk, mallory.pk]

    run_state_machine_as_test(
        lambda: LedgerMachine(user_ids, demo_markets, dict(chains)), settings=LEDGER_SETTINGS
    )
