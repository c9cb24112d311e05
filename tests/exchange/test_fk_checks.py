"""Foreign keys of fills and journal entries/lines, checked per statement by triggers
(migration exchange/0006) instead of per row at COMMIT: a dangling key is refused by the ORM and by
COPY alike, a referenced parent cannot be deleted, and ids never change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.db_copy import copy_rows
from exchange.models import (
    AccountKind,
    EntryKind,
    Fill,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    Order,
    Side,
)
from exchange.services.ledger import ledger_account_get
from exchange.services.settlement import FILL_COLUMNS
from tests.factories.trading import fill_make, market_get, order_make

MISSING = 987_654_321


@pytest.fixture
def orders(demo_markets, alice, bob):  # type: ignore[no-untyped-def]
    market = market_get("SOL_USDC")
    maker = order_make(user=alice, market=market, side=Side.ASK, price="20", quantity="1")
    taker = order_make(user=bob, market=market, side=Side.BID, price="20", quantity="1")
    return market, maker, taker


def fill_row(market, maker: Order, taker: Order, trade_id: int = 1, **changes):  # type: ignore[no-untyped-def]
    row = dict(
        zip(
            FILL_COLUMNS,
            (
                market.pk,
                trade_id,
                Decimal(20),
                Decimal(1),
                Decimal(20),
                "Bid",
                maker.pk,
                taker.pk,
                maker.user_id,
                taker.user_id,
                Decimal(0),
                market.quote_id,
                Decimal(0),
                market.base_id,
                1,
                timezone.now(),
            ),
            strict=True,
        )
    )
    row.update(changes)
    return tuple(row.values())


def refused(statement) -> str:  # type: ignore[no-untyped-def]
    """Run `statement` in a savepoint; it must fail with foreign_key_violation. Its message."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        statement()
    assert caught.value.__cause__.sqlstate == "23503"
    return str(caught.value)


def test_fills_copied_with_a_dangling_key_are_refused_naming_the_constraint_and_key(orders):
    market, maker, taker = orders
    good = fill_row(market, maker, taker, trade_id=1)

    for column, constraint in [
        ("maker_order_id", "exchange_fill_maker_order_id_fk"),
        ("taker_user_id", "exchange_fill_taker_user_id_fk"),
        ("market_id", "exchange_fill_market_id_fk"),
        ("taker_fee_asset_id", "exchange_fill_taker_fee_asset_id_fk"),
    ]:
        bad = fill_row(market, maker, taker, trade_id=2, **{column: MISSING})
        message = refused(lambda bad=bad: copy_rows("exchange_fill", FILL_COLUMNS, [good, bad]))
        assert constraint in message
        assert f"Key ({column})=({MISSING}) is not present" in message

    assert not Fill.objects.exists()  # the whole statement was refused
    copy_rows("exchange_fill", FILL_COLUMNS, [good])
    assert Fill.objects.count() == 1


def test_an_orm_fill_or_update_with_a_dangling_key_is_refused(orders):
    market, maker, taker = orders
    refused(lambda: Fill.objects.create(**{**_fill_fields(market, maker, taker), "maker_order_id": MISSING}))

    fill = fill_make(maker_order=maker, taker_order=taker, price="20", quantity="1")
    message = refused(lambda: Fill.objects.filter(pk=fill.pk).update(taker_user_id=MISSING))
    assert "exchange_fill_taker_user_id_fk" in message
    fill.refresh_from_db()
    assert fill.taker_user_id == taker.user_id


def _fill_fields(market, maker: Order, taker: Order) -> dict:  # type: ignore[no-untyped-def]
    return dict(zip(FILL_COLUMNS, fill_row(market, maker, taker), strict=True))


def test_journal_lines_with_a_dangling_entry_account_or_asset_are_refused(demo_markets, alice):
    usdc = demo_markets["USDC"]
    available = ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=usdc)
    locked = ledger_account_get(owner_id=alice.pk, kind=AccountKind.LOCKED, asset=usdc)
    entry = JournalEntry.objects.create(kind=EntryKind.ADJUSTMENT, reference="test")
    columns = ("entry_id", "account_id", "asset_id", "amount")

    def lines(**changes: int) -> list[tuple[int, int, int, Decimal]]:
        first = {"entry_id": entry.pk, "account_id": available.pk, "asset_id": usdc.pk, "amount": Decimal(1)}
        second = {**first, "account_id": locked.pk, "amount": Decimal(-1), **changes}
        return [tuple(first.values()), tuple(second.values())]

    for column in ("entry_id", "account_id", "asset_id"):
        message = refused(
            lambda column=column: copy_rows("exchange_journalline", columns, lines(**{column: MISSING}))
        )
        assert f"exchange_journalline_{column}_fk" in message
    refused(lambda: JournalLine.objects.create(entry_id=MISSING, account=available, asset=usdc, amount=1))
    refused(lambda: JournalEntry.objects.create(kind=EntryKind.ADJUSTMENT, created_by_id=MISSING))
    assert not JournalLine.objects.exists()

    copy_rows("exchange_journalline", columns, lines())  # entry first, then its lines: accepted
    assert JournalLine.objects.count() == 2


def test_a_referenced_parent_cannot_be_deleted_an_unreferenced_one_can(orders):
    market, maker, taker = orders
    fill_make(maker_order=maker, taker_order=taker, price="20", quantity="1")
    spare = order_make(user=maker.user, market=market, side=Side.ASK, price="21", quantity="1")

    def delete(table: str, row_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [row_id])  # noqa: S608

    message = refused(lambda: delete("exchange_order", taker.pk))
    assert "exchange_fill_taker_order_id_fk" in message
    assert f"Key (id)=({taker.pk}) is still referenced" in message
    refused(lambda: delete("accounts_user", maker.user_id))
    refused(lambda: delete("exchange_asset", market.quote_id))
    refused(lambda: delete("exchange_market", market.pk))

    delete("exchange_order", spare.pk)
    assert not Order.objects.filter(pk=spare.pk).exists()


def test_a_ledger_account_or_entry_with_lines_cannot_be_deleted(demo_markets, alice):
    usdc = demo_markets["USDC"]
    available = ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=usdc)
    locked = ledger_account_get(owner_id=alice.pk, kind=AccountKind.LOCKED, asset=usdc)
    entry = JournalEntry.objects.create(kind=EntryKind.ADJUSTMENT, reference="test")
    JournalLine.objects.bulk_create(
        [
            JournalLine(entry=entry, account=available, asset=usdc, amount=1),
            JournalLine(entry=entry, account=locked, asset=usdc, amount=-1),
        ]
    )

    assert "exchange_journalline_account_id_fk" in refused(
        lambda: LedgerAccount.objects.filter(pk=available.pk)._raw_delete(connection.alias)
    )
    assert "exchange_journalline_entry_id_fk" in refused(
        lambda: JournalEntry.objects.filter(pk=entry.pk)._raw_delete(connection.alias)
    )
    spare = ledger_account_get(owner_id=alice.pk, kind=AccountKind.STAKED, asset=usdc)
    LedgerAccount.objects.filter(pk=spare.pk)._raw_delete(connection.alias)
    assert not LedgerAccount.objects.filter(pk=spare.pk).exists()


def test_a_parent_id_never_changes(orders):
    _, maker, _ = orders
    message = refused(lambda: Order.objects.filter(pk=maker.pk).update(id=MISSING))
    assert "never changes" in message
