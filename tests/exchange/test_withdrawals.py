"""Withdrawals: a request locks quantity + fee, the pipeline moves by compare-and-set, confirmation
sends the quantity out and keeps the fee, a rejection or failure gives everything back, and
`check_ledger` agrees after every scenario."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.errors import DomainError, InsufficientFunds, InvalidAsset, InvalidQuantity, InvalidRequest
from exchange.chain.addresses import base58_encode, segwit_v0_address, simulated_address
from exchange.chain.simulated_withdrawals import (
    SimulatedChain,
    address_is_plausible,
    base58_decode,
    simulated_withdrawal_hash,
)
from exchange.models import (
    AccountKind,
    AssetToken,
    EntryKind,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    Withdrawal,
    WithdrawalStatus,
)
from exchange.services import withdrawals as withdrawal_services
from exchange.services.deposits import deposit_credit
from exchange.services.ledger import house_account, ledger_account_get
from exchange.services.ledger_check import ledger_check
from exchange.services.withdrawals import (
    WithdrawalAlreadyInState,
    WithdrawalStateError,
    withdrawal_advance,
    withdrawal_approve,
    withdrawal_broadcast,
    withdrawal_confirm,
    withdrawal_fail,
    withdrawal_reject,
    withdrawal_request,
    withdrawal_sign,
)
from exchange.tasks_custody import withdrawal_process, withdrawal_sweep

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
# An address outside the exchange: base58 of 32 bytes, like any Solana account.
SOLANA_DESTINATION = base58_encode(hashlib.sha256(b"alice's own wallet").digest())
SOLANA_HASH = re.compile(r"[1-9A-HJ-NP-Za-km-z]{86,88}")


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def funded(demo_markets, alice, alice_device, clock, settings):
    """alice with 100 USDC available (USDC on Solana: fee 1, minimum 2), an authenticator, and no
    waiting period for new addresses (the address-book rules: tests/compliance)."""
    settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = 0
    deposit_credit(user_id=alice.pk, asset=demo_markets["USDC"], quantity=Decimal("100"), source="solana")
    return demo_markets


def balance(user, symbol: str, kind: str) -> Decimal:
    account = LedgerAccount.objects.filter(owner=user, kind=kind, asset__symbol=symbol).first()
    return account.balance if account else Decimal(0)


def house(symbol: str, kind: str) -> Decimal:
    account = LedgerAccount.objects.filter(owner=None, kind=kind, asset__symbol=symbol).first()
    return account.balance if account else Decimal(0)


def snapshot() -> tuple[object, ...]:
    return (
        dict(LedgerAccount.objects.values_list("pk", "balance")),
        JournalEntry.objects.count(),
        JournalLine.objects.count(),
        list(
            Withdrawal.objects.order_by("pk").values_list(
                "pk", "status", "transaction_hash", "reason", "hold_entry_id", "settle_entry_id", "updated_at"
            )
        ),
    )


def lines(entry_id: int) -> list[tuple[object, ...]]:
    """(owner, kind, amount) of an entry's lines, by kind."""
    rows = JournalLine.objects.filter(entry_id=entry_id).values_list(
        "account__owner_id", "account__kind", "amount"
    )
    return sorted(rows, key=lambda row: row[1])


def request(user, **overrides: object) -> Withdrawal:
    arguments: dict[str, object] = {
        "user": user,
        "asset_symbol": "USDC",
        "blockchain": "Solana",
        "address": SOLANA_DESTINATION,
        "quantity": Decimal("10"),
    }
    arguments.update(overrides)
    if "two_factor_token" not in overrides:
        # Time stands still in these tests, and a code is accepted once per 30-second step.
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
        arguments["two_factor_token"] = code(device)
    return withdrawal_request(**arguments)  # type: ignore[arg-type]


def assert_ledger_ok() -> None:
    report = ledger_check()
    assert report.ok, report.problems


# --- request ----------------------------------------------------------------------------------


def test_request_locks_quantity_plus_fee(funded, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        withdrawal = request(alice, blockchain="sOLANA", client_id="memo-1")

    stored = Withdrawal.objects.get()
    assert stored == withdrawal
    assert (
        stored.user_id,
        stored.asset.symbol,
        stored.blockchain,
        stored.to_address,
        stored.client_id,
        stored.quantity,
        stored.fee,
        stored.status,
        stored.transaction_hash,
        stored.settle_entry_id,
        stored.created_at,
    ) == (
        alice.pk,
        "USDC",
        "Solana",
        SOLANA_DESTINATION,
        "memo-1",
        Decimal("10"),
        Decimal("1"),
        WithdrawalStatus.REQUESTED,
        None,
        None,
        T0,
    )
    assert stored.hold_entry.kind == EntryKind.HOLD
    assert lines(stored.hold_entry_id) == [
        (alice.pk, "available", Decimal("-11")),
        (alice.pk, "locked", Decimal("11")),
    ]
    assert (balance(alice, "USDC", "available"), balance(alice, "USDC", "locked")) == (
        Decimal(89),
        Decimal(11),
    )
    assert len(callbacks) == 1
    assert_ledger_ok()


def test_request_queues_processing_after_commit(
    funded, alice, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[int] = []
    monkeypatch.setattr(withdrawal_process, "delay", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        withdrawal = request(alice)

    assert queued == [withdrawal.pk]


def test_the_whole_balance_can_go_with_the_fee(funded, alice):
    request(alice, quantity=Decimal("99"))

    assert (balance(alice, "USDC", "available"), balance(alice, "USDC", "locked")) == (
        Decimal(0),
        Decimal(100),
    )


def test_insufficient_funds_changes_nothing(funded, alice, django_capture_on_commit_callbacks):
    before = snapshot()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InsufficientFunds) as refused:
        request(alice, quantity=Decimal("99.5"))

    assert refused.value.code == "INSUFFICIENT_FUNDS"
    assert refused.value.message == "Insufficient available USDC: have 100, need 100.5 (including a fee of 1)"
    assert snapshot() == before
    assert callbacks == []


def test_insufficient_funds_found_under_the_lock_changes_nothing(funded, alice, monkeypatch):
    # The early unlocked look passed (a concurrent withdrawal spent the funds since): the posting
    # under the row lock refuses and the whole request rolls back, withdrawal row included.
    request(alice, quantity=Decimal("50"))
    before = snapshot()
    monkeypatch.setattr(withdrawal_services, "_available_balance", lambda **_: Decimal(100))

    with pytest.raises(InsufficientFunds) as refused:
        request(alice, quantity=Decimal("49"))

    assert refused.value.message == "Insufficient available USDC: have 49, need 50"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("overrides", "error", "code", "message"),
    [
        ({"asset_symbol": "DOGE"}, InvalidAsset, "INVALID_ASSET", "Unknown asset: DOGE"),
        (
            {"blockchain": "Dogecoin"},
            InvalidRequest,
            "INVALID_CLIENT_REQUEST",
            "Unsupported blockchain: Dogecoin",
        ),
        ({"blockchain": ""}, InvalidRequest, "INVALID_CLIENT_REQUEST", "Unsupported blockchain: "),
        ({"blockchain": "Bitcoin"}, InvalidAsset, "INVALID_ASSET", "USDC cannot be withdrawn on Bitcoin"),
        (
            {"address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"},
            InvalidRequest,
            "INVALID_CLIENT_REQUEST",
            "Invalid Solana address: 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        ),
        ({"address": ""}, InvalidRequest, "INVALID_CLIENT_REQUEST", "Invalid Solana address: "),
        (
            {"quantity": Decimal("0")},
            InvalidQuantity,
            "INVALID_QUANTITY",
            "Quantity must be a positive decimal",
        ),
        (
            {"quantity": Decimal("-5")},
            InvalidQuantity,
            "INVALID_QUANTITY",
            "Quantity must be a positive decimal",
        ),
        (
            {"quantity": Decimal("NaN")},
            InvalidQuantity,
            "INVALID_QUANTITY",
            "Quantity must be a positive decimal",
        ),
        ({"quantity": Decimal("1E+30")}, InvalidQuantity, "INVALID_QUANTITY", "Quantity is too large"),
        (
            {"quantity": Decimal("10.0000001")},
            InvalidQuantity,
            "INVALID_QUANTITY",
            "USDC quantities have at most 6 decimals",
        ),
        (
            {"quantity": Decimal("1.999999")},
            InvalidQuantity,
            "INVALID_QUANTITY",
            "Minimum withdrawal of USDC on Solana is 2",
        ),
        (
            {"client_id": "x" * 129},
            InvalidRequest,
            "INVALID_CLIENT_REQUEST",
            "clientId is at most 128 characters",
        ),
    ],
)
def test_bad_requests_change_nothing(funded, alice, overrides, error, code, message):
    before = snapshot()

    with pytest.raises(error) as refused:
        request(alice, **overrides)

    assert (refused.value.code, refused.value.message) == (code, message)
    assert snapshot() == before


def test_maximum_and_disabled_withdrawals_are_refused(funded, alice):
    token = AssetToken.objects.get(asset__symbol="USDC", blockchain="Solana")
    AssetToken.objects.filter(pk=token.pk).update(maximum_withdrawal=Decimal("20"))
    before = snapshot()

    with pytest.raises(InvalidQuantity, match=r"^Maximum withdrawal of USDC on Solana is 20$"):
        request(alice, quantity=Decimal("20.5"))
    request(alice, quantity=Decimal("20"))  # the maximum itself is allowed
    middle = snapshot()
    AssetToken.objects.filter(pk=token.pk).update(withdraw_enabled=False)
    with pytest.raises(InvalidAsset, match=r"^Withdrawals of USDC on Solana are disabled$"):
        request(alice)

    assert snapshot() == middle != before


# --- two-factor authentication ----------------------------------------------------------------


@pytest.fixture
def alice_device(alice):
    return TOTPDevice.objects.get_or_create(
        user=alice, confirmed=True, defaults={"name": "Authenticator app"}
    )[0]


def code(device: TOTPDevice, offset: int = 0) -> str:
    return f"{(totp(device.bin_key) + offset) % 1_000_000:06d}"


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_two_factor_code_is_required_when_enabled(funded, alice, alice_device, token):
    before = snapshot()
    token = code(alice_device, offset=1) if token == "wrong" else token

    with pytest.raises(InvalidRequest) as refused:
        request(alice, two_factor_token=token)

    assert refused.value.code == "INVALID_TWO_FACTOR_CODE"
    assert refused.value.message == ("Invalid two-factor code" if token else "Two-factor code required")
    assert snapshot() == before


def test_a_current_code_lets_the_withdrawal_through_once(funded, alice, alice_device):
    current = code(alice_device)

    request(alice, two_factor_token=current)
    before = snapshot()
    with pytest.raises(InvalidRequest) as reused:
        request(alice, two_factor_token=current)

    assert reused.value.code == "INVALID_TWO_FACTOR_CODE"
    assert snapshot() == before
    assert Withdrawal.objects.count() == 1


def test_without_a_confirmed_device_withdrawals_are_refused(funded, alice):
    TOTPDevice.objects.filter(user=alice).delete()
    TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=False)
    before = snapshot()

    with pytest.raises(InvalidRequest) as refused:
        request(alice, two_factor_token="123456")

    assert refused.value.code == "TWO_FACTOR_REQUIRED"
    assert "set up an authenticator app" in refused.value.message
    assert snapshot() == before


# --- the pipeline -----------------------------------------------------------------------------


def test_every_transition_to_confirmed(funded, alice):
    withdrawal = request(alice)

    approved = withdrawal_approve(withdrawal_id=withdrawal.pk)
    assert approved.status == WithdrawalStatus.APPROVED
    assert_ledger_ok()
    signed = withdrawal_sign(withdrawal_id=withdrawal.pk)
    assert signed.status == WithdrawalStatus.SIGNED
    broadcast = withdrawal_broadcast(withdrawal_id=withdrawal.pk, transaction_hash=" 5abc ")
    assert (broadcast.status, broadcast.transaction_hash) == (WithdrawalStatus.BROADCAST, "5abc")
    assert (balance(alice, "USDC", "available"), balance(alice, "USDC", "locked")) == (
        Decimal(89),
        Decimal(11),
    )
    assert_ledger_ok()
    confirmed = withdrawal_confirm(withdrawal_id=withdrawal.pk)

    assert confirmed.status == WithdrawalStatus.CONFIRMED
    assert confirmed.settle_entry.kind == EntryKind.WITHDRAWAL
    assert lines(confirmed.settle_entry_id) == [
        (None, "external", Decimal("10")),
        (None, "fees", Decimal("1")),
        (alice.pk, "locked", Decimal("-11")),
    ]
    assert (balance(alice, "USDC", "available"), balance(alice, "USDC", "locked")) == (
        Decimal(89),
        Decimal(0),
    )
    # 100 came in, 10 went out, the fee of 1 stays inside as income.
    assert (house("USDC", "external"), house("USDC", "fees")) == (Decimal(-90), Decimal(1))
    assert Withdrawal.objects.get().settle_entry_id == confirmed.settle_entry_id
    assert_ledger_ok()


def test_zero_fee_settles_with_two_lines(funded, alice):
    AssetToken.objects.filter(asset__symbol="USDC", blockchain="Solana").update(withdrawal_fee=0)
    withdrawal = request(alice)

    confirmed = withdrawal_process(withdrawal.pk)

    assert confirmed == "confirmed"
    assert lines(Withdrawal.objects.get().settle_entry_id) == [
        (None, "external", Decimal("10")),
        (alice.pk, "locked", Decimal("-10")),
    ]
    assert house("USDC", "fees") == 0
    assert_ledger_ok()


def advance_to(withdrawal: Withdrawal, status: WithdrawalStatus) -> None:
    steps = [
        (WithdrawalStatus.APPROVED, lambda: withdrawal_approve(withdrawal_id=withdrawal.pk)),
        (WithdrawalStatus.SIGNED, lambda: withdrawal_sign(withdrawal_id=withdrawal.pk)),
        (
            WithdrawalStatus.BROADCAST,
            lambda: withdrawal_broadcast(withdrawal_id=withdrawal.pk, transaction_hash="tx-1"),
        ),
        (WithdrawalStatus.CONFIRMED, lambda: withdrawal_confirm(withdrawal_id=withdrawal.pk)),
        (WithdrawalStatus.REJECTED, lambda: withdrawal_reject(withdrawal_id=withdrawal.pk, reason="no")),
        (WithdrawalStatus.FAILED, lambda: withdrawal_fail(withdrawal_id=withdrawal.pk, reason="no")),
    ]
    if status in (WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED):
        dict(steps)[status]()
        return
    for target, step in steps:
        if Withdrawal.objects.get(pk=withdrawal.pk).status == status:
            return
        step()
        assert Withdrawal.objects.get(pk=withdrawal.pk).status == target


MOVES = {
    "approve": (WithdrawalStatus.APPROVED, lambda pk: withdrawal_approve(withdrawal_id=pk)),
    "sign": (WithdrawalStatus.SIGNED, lambda pk: withdrawal_sign(withdrawal_id=pk)),
    "broadcast": (
        WithdrawalStatus.BROADCAST,
        lambda pk: withdrawal_broadcast(withdrawal_id=pk, transaction_hash="tx-2"),
    ),
    "confirm": (WithdrawalStatus.CONFIRMED, lambda pk: withdrawal_confirm(withdrawal_id=pk)),
    "reject": (WithdrawalStatus.REJECTED, lambda pk: withdrawal_reject(withdrawal_id=pk, reason="again")),
    "fail": (WithdrawalStatus.FAILED, lambda pk: withdrawal_fail(withdrawal_id=pk, reason="again")),
}


@pytest.mark.parametrize("move", sorted(MOVES))
def test_a_repeated_move_changes_nothing_and_says_so(funded, alice, move):
    target, call = MOVES[move]
    withdrawal = request(alice)
    advance_to(withdrawal, target)
    before = snapshot()

    with pytest.raises(WithdrawalAlreadyInState) as repeated:
        call(withdrawal.pk)

    assert repeated.value.code == "PRECONDITION_FAILED"
    assert repeated.value.message == f"Withdrawal {withdrawal.pk} is already {target}: nothing changed"
    assert repeated.value.withdrawal.status == target
    assert snapshot() == before
    assert_ledger_ok()


LEGAL = {
    WithdrawalStatus.REQUESTED: {"approve", "reject", "fail"},
    WithdrawalStatus.APPROVED: {"sign", "reject", "fail"},
    WithdrawalStatus.SIGNED: {"broadcast", "reject", "fail"},
    WithdrawalStatus.BROADCAST: {"confirm"},
    WithdrawalStatus.CONFIRMED: set(),
    WithdrawalStatus.REJECTED: set(),
    WithdrawalStatus.FAILED: set(),
}
ILLEGAL = [
    (status, move)
    for status, allowed in LEGAL.items()
    for move, (target, _) in sorted(MOVES.items())
    if move not in allowed and target != status
]


@pytest.mark.parametrize(("status", "move"), ILLEGAL)
def test_illegal_moves_raise_and_change_nothing(funded, alice, status, move):
    withdrawal = request(alice)
    advance_to(withdrawal, status)
    before = snapshot()
    target, call = MOVES[move]

    with pytest.raises(WithdrawalStateError) as refused:
        call(withdrawal.pk)

    assert type(refused.value) is WithdrawalStateError
    assert refused.value.message == f"Withdrawal {withdrawal.pk} is {status}: it cannot become {target}"
    assert snapshot() == before


def test_moves_of_an_unknown_withdrawal_are_not_found(db):
    with pytest.raises(DomainError) as missing:
        withdrawal_sign(withdrawal_id=424242)

    assert (missing.value.code, missing.value.message) == (
        "RESOURCE_NOT_FOUND",
        "Withdrawal 424242 not found",
    )


@pytest.mark.parametrize(
    "status", [WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.SIGNED]
)
@pytest.mark.parametrize("move", ["reject", "fail"])
def test_reject_and_fail_release_everything(funded, alice, status, move):
    withdrawal = request(alice)
    advance_to(withdrawal, status)
    target, call = MOVES[move]

    released = call(withdrawal.pk)

    assert (released.status, released.reason, released.settle_entry_id) == (target, "again", None)
    release = JournalEntry.objects.get(idempotency_key=f"withdrawal:{withdrawal.pk}:release")
    assert (release.kind, release.memo) == (EntryKind.RELEASE, "again")
    assert lines(release.pk) == [(alice.pk, "available", Decimal("11")), (alice.pk, "locked", Decimal("-11"))]
    assert (balance(alice, "USDC", "available"), balance(alice, "USDC", "locked")) == (
        Decimal(100),
        Decimal(0),
    )
    assert (house("USDC", "external"), house("USDC", "fees")) == (Decimal(-100), Decimal(0))
    assert_ledger_ok()


def test_a_broadcast_with_an_empty_hash_is_refused(funded, alice):
    withdrawal = request(alice)
    advance_to(withdrawal, WithdrawalStatus.SIGNED)
    before = snapshot()

    with pytest.raises(InvalidRequest):
        withdrawal_broadcast(withdrawal_id=withdrawal.pk, transaction_hash="  ")

    assert snapshot() == before


def test_compliance_checks_reject_at_approval(funded, alice, monkeypatch):
    monkeypatch.setattr(
        withdrawal_services,
        "withdrawal_checks",
        lambda withdrawal: ["address on a blocklist", "no travel info"],
    )
    withdrawal = request(alice)

    result = withdrawal_approve(withdrawal_id=withdrawal.pk)

    assert (result.status, result.reason) == (
        WithdrawalStatus.REJECTED,
        "address on a blocklist; no travel info",
    )
    assert balance(alice, "USDC", "available") == Decimal(100)
    assert_ledger_ok()


def test_the_checks_hook_finds_nothing_yet(funded, alice):
    assert withdrawal_services.withdrawal_checks(request(alice)) == []


# --- processing: the task and the simulated chain ---------------------------------------------


def test_the_task_takes_a_withdrawal_to_confirmed_once(funded, alice):
    withdrawal = request(alice)

    assert withdrawal_process(withdrawal.pk) == "confirmed"
    after = snapshot()
    assert withdrawal_process(withdrawal.pk) == "confirmed"  # a redelivered task

    stored = Withdrawal.objects.get()
    assert stored.transaction_hash == simulated_withdrawal_hash(stored)
    assert SOLANA_HASH.fullmatch(stored.transaction_hash)
    assert snapshot() == after
    assert (balance(alice, "USDC", "available"), balance(alice, "USDC", "locked")) == (
        Decimal(89),
        Decimal(0),
    )
    assert (house("USDC", "external"), house("USDC", "fees")) == (Decimal(-90), Decimal(1))
    assert_ledger_ok()


@pytest.mark.parametrize(
    "status", [WithdrawalStatus.APPROVED, WithdrawalStatus.SIGNED, WithdrawalStatus.BROADCAST]
)
def test_the_task_carries_on_from_where_a_previous_run_stopped(funded, alice, status):
    withdrawal = request(alice)
    advance_to(withdrawal, status)

    assert withdrawal_process(withdrawal.pk) == "confirmed"
    assert_ledger_ok()


def test_the_task_leaves_final_withdrawals_alone(funded, alice):
    withdrawal = request(alice)
    withdrawal_reject(withdrawal_id=withdrawal.pk, reason="officer said no")
    before = snapshot()

    assert withdrawal_process(withdrawal.pk) == "rejected"
    assert withdrawal_process(999_999) is None
    assert snapshot() == before


def test_a_chain_refusal_fails_the_withdrawal_and_releases_the_funds(funded, alice):
    withdrawal = request(alice)
    chain = SimulatedChain(refuse=lambda w: "destination frozen by the issuer")

    result = withdrawal_advance(withdrawal_id=withdrawal.pk, chain=chain)

    assert (result.status, result.reason, result.transaction_hash) == (
        WithdrawalStatus.FAILED,
        "destination frozen by the issuer",
        None,
    )
    assert (balance(alice, "USDC", "available"), balance(alice, "USDC", "locked")) == (
        Decimal(100),
        Decimal(0),
    )
    assert_ledger_ok()


def test_an_unconfirmed_broadcast_waits(funded, alice):
    class SlowChain(SimulatedChain):
        def is_confirmed(self, withdrawal):
            return False

    withdrawal = request(alice)

    result = withdrawal_advance(withdrawal_id=withdrawal.pk, chain=SlowChain())

    assert result.status == WithdrawalStatus.BROADCAST
    assert balance(alice, "USDC", "locked") == Decimal(11)
    assert_ledger_ok()


def test_a_lost_race_is_picked_up_from_the_winners_state(funded, alice, monkeypatch):
    # Another worker signs the withdrawal between this worker's read and its move.
    withdrawal = request(alice)
    withdrawal_approve(withdrawal_id=withdrawal.pk)
    real_sign = withdrawal_services.withdrawal_sign
    calls: list[int] = []

    def sign_after_the_other_worker(*, withdrawal_id: int) -> Withdrawal:
        calls.append(withdrawal_id)
        if len(calls) == 1:
            real_sign(withdrawal_id=withdrawal_id)  # the other worker wins
        return real_sign(withdrawal_id=withdrawal_id)

    monkeypatch.setattr(withdrawal_services, "withdrawal_sign", sign_after_the_other_worker)

    result = withdrawal_advance(withdrawal_id=withdrawal.pk, chain=SimulatedChain())

    assert result.status == WithdrawalStatus.CONFIRMED
    assert calls == [withdrawal.pk]
    assert JournalEntry.objects.filter(kind=EntryKind.WITHDRAWAL).count() == 1
    assert_ledger_ok()


def test_process_withdrawals_command_sweeps_every_unfinished_one(funded, alice, mallory, capsys):
    # mallory: another verified customer with an authenticator (only verified customers withdraw).
    TOTPDevice.objects.create(user=mallory, name="Authenticator app", confirmed=True)
    deposit_credit(user_id=mallory.pk, asset=funded["USDC"], quantity=Decimal("50"), source="solana")
    first = request(alice, quantity=Decimal("10"))
    second = request(mallory, quantity=Decimal("20"))
    third = request(alice, quantity=Decimal("5"))
    withdrawal_reject(withdrawal_id=third.pk, reason="no")
    advance_to(second, WithdrawalStatus.SIGNED)

    call_command("process_withdrawals")

    assert capsys.readouterr().out.strip() == "processed withdrawals: 2 confirmed"
    assert dict(Withdrawal.objects.values_list("pk", "status")) == {
        first.pk: "confirmed",
        second.pk: "confirmed",
        third.pk: "rejected",
    }
    assert (house("USDC", "external"), house("USDC", "fees")) == (Decimal(-120), Decimal(2))
    assert (balance(mallory, "USDC", "available"), balance(mallory, "USDC", "locked")) == (
        Decimal(29),
        Decimal(0),
    )
    assert_ledger_ok()
    call_command("process_withdrawals")
    assert capsys.readouterr().out.strip() == "processed withdrawals: nothing to do"


def test_process_withdrawals_command_takes_chosen_ids(funded, alice, capsys):
    first = request(alice)
    second = request(alice)

    call_command("process_withdrawals", "--id", str(second.pk))

    assert capsys.readouterr().out.strip() == "processed withdrawals: 1 confirmed"
    assert dict(Withdrawal.objects.values_list("pk", "status")) == {
        first.pk: "requested",
        second.pk: "confirmed",
    }


def test_the_sweep_queues_every_unfinished_withdrawal(funded, alice, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(withdrawal_process, "delay", queued.append)
    done = request(alice)
    withdrawal_process(done.pk)
    waiting = [request(alice).pk, request(alice).pk]
    advance_to(Withdrawal.objects.get(pk=waiting[1]), WithdrawalStatus.BROADCAST)

    assert withdrawal_sweep() == 2
    assert queued == waiting


# --- check_ledger sees broken withdrawals -----------------------------------------------------


def corrupt(sql: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_check_ledger_notices_a_confirmed_withdrawal_without_settlement(funded, alice):
    withdrawal = request(alice)
    withdrawal_process(withdrawal.pk)
    corrupt("UPDATE exchange_withdrawal SET settle_entry_id = NULL WHERE id = %s", withdrawal.pk)

    assert ledger_check().problems == [f"confirmed withdrawal without its settlement entry: {withdrawal.pk}"]


def test_check_ledger_notices_external_funds_that_do_not_match(funded, alice):
    withdrawal = request(alice)
    withdrawal_process(withdrawal.pk)
    # The record says 12 left; the ledger sent 10 out.
    corrupt("UPDATE exchange_withdrawal SET quantity = 12 WHERE id = %s", withdrawal.pk)

    assert ledger_check().problems == [
        "funds inside differ from confirmed deposits minus confirmed withdrawals: USDC, 90, 88"
    ]


def test_check_ledger_notices_an_uncovered_hold(funded, alice):
    withdrawal = request(alice)
    withdrawal_process(request(alice, quantity=Decimal("5")).pk)
    # A pending withdrawal whose hold was spent behind the services' back.
    locked = ledger_account_get(owner_id=alice.pk, kind=AccountKind.LOCKED, asset=funded["USDC"])
    corrupt("UPDATE exchange_withdrawal SET hold_entry_id = NULL WHERE id = %s", withdrawal.pk)
    corrupt("UPDATE exchange_ledgeraccount SET balance = 4 WHERE id = %s", locked.pk)

    problems = ledger_check().problems

    assert f"withdrawal without its hold entry: {withdrawal.pk}, requested" in problems
    assert (
        f"withdrawal in a non-final state whose locked hold is not covered: {alice.pk}, USDC, 11, 4"
        in problems
    )
    assert house_account(kind=AccountKind.EXTERNAL, asset=funded["USDC"]).balance == Decimal(-95)


# --- address checks and the simulated chain's hashes ------------------------------------------


@pytest.mark.parametrize(
    ("blockchain", "address"),
    [
        ("Solana", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
        ("Solana", "11111111111111111111111111111111"),
        ("Ethereum", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
        ("Ethereum", "0x" + "ab" * 20),
        # BIP-173 and BIP-350 test vectors, and legacy P2PKH / P2SH.
        ("Bitcoin", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"),
        ("Bitcoin", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"),
        ("Bitcoin", "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"),
        ("Bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("Bitcoin", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
        ("Bitcoin", segwit_v0_address(bytes(range(20)))),
    ]
    + [
        (chain, simulated_address(user_id=7, blockchain=chain)) for chain in ("Bitcoin", "Ethereum", "Solana")
    ],
)
def test_plausible_addresses(blockchain, address):
    assert address_is_plausible(blockchain=blockchain, address=address)


@pytest.mark.parametrize(
    ("blockchain", "address"),
    [
        ("Solana", ""),
        ("Solana", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1vX"),  # 33 bytes
        ("Solana", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt0v"),  # 0 is not base58
        ("Solana", "1111111111111111111111111111111"),  # 31 bytes
        ("Ethereum", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB4"),
        ("Ethereum", "A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
        ("Ethereum", "0x" + "g" * 40),
        ("Bitcoin", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"),  # bad checksum
        ("Bitcoin", "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),  # mixed case
        ("Bitcoin", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"),  # testnet
        # BIP-350: version 1 with a bech32 (not bech32m) checksum.
        ("Bitcoin", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"),
        ("Bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),  # bad base58check checksum
        ("Bitcoin", "2BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("Dogecoin", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"),  # no known format
        ("Solana", "ÉPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
    ],
)
def test_implausible_addresses(blockchain, address):
    assert not address_is_plausible(blockchain=blockchain, address=address)


def test_base58_round_trip():
    for data in (b"", b"\0", b"\0\0\x01", hashlib.sha256(b"x").digest()):
        assert base58_decode(base58_encode(data)) == (data or None)


@pytest.mark.parametrize(
    ("blockchain", "symbol", "address", "hash_format"),
    [
        ("Solana", "SOL", SOLANA_DESTINATION, SOLANA_HASH),
        ("Ethereum", "ETH", "0x" + "ab" * 20, re.compile(r"0x[0-9a-f]{64}")),
        ("Bitcoin", "BTC", segwit_v0_address(bytes(20)), re.compile(r"[0-9a-f]{64}")),
    ],
)
def test_sending_gives_the_chains_hash_format_and_the_same_hash_twice(
    blockchain, symbol, address, hash_format
):
    withdrawal = Withdrawal(
        pk=7, blockchain=blockchain, to_address=address, quantity=Decimal("1"), status=WithdrawalStatus.SIGNED
    )
    chain = SimulatedChain()

    first = chain.send(withdrawal)

    assert hash_format.fullmatch(first)
    assert chain.send(withdrawal) == first
    other = Withdrawal(pk=8, blockchain=blockchain, to_address=address, quantity=Decimal("1"))
    assert chain.send(other) != first
