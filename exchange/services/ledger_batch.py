"""Many balanced entries in one go: the matching worker's settlement path.

Same rules as `ledger_post` (balanced per asset, asset precision, no funds-holding bucket below
zero), but the accounts of the whole batch are locked once, in id order, and entries, lines and
balance updates are written with a handful of statements, whatever the number of entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.api_prepared import prepared_cursor
from core.db_copy import allocate_ids, array_literal, copy_escape, copy_text
from core.errors import InsufficientFunds, LedgerImbalance
from exchange.models import AccountKind, Asset
from exchange.models.ledger import SIGNED_KINDS
from exchange.services.ledger import ledger_account_get

_SIGNED = frozenset(str(kind) for kind in SIGNED_KINDS)
_TRADING_KINDS = (AccountKind.AVAILABLE.value, AccountKind.LOCKED.value)

# (owner id, 0 for the house; kind; asset id) -> ledger account id. Accounts are never deleted and
# ids are never reused, so a process may keep them; the hot paths (order placement, settlement)
# then name accounts by id without a query.
_account_ids: dict[tuple[int, str, int], int] = {}


# (owner id, asset ids) already preloaded: an account that did not exist then (a user who never
# held the asset) is not looked for again by each batch; `ledger_account_id` finds or creates it
# when it is needed.
_preloaded: set[tuple[int, tuple[int, ...]]] = set()


def ledger_account_id(*, owner_id: int | None, kind: str, asset: Asset) -> int:
    """The id of the (owner, kind, asset) account, created on first use (see `ledger_account_get`)."""
    key = (owner_id or 0, kind, asset.pk)
    account_id = _account_ids.get(key)
    if account_id is None:
        account_id = ledger_account_get(owner_id=owner_id, kind=kind, asset=asset).pk
        _account_ids[key] = account_id
    return account_id


def ledger_account_ids_forget(*, owner_id: int) -> None:
    """Drop the owner's cached ids (after a statement found them not to match)."""
    for key in [key for key in _account_ids if key[0] == owner_id]:
        _account_ids.pop(key, None)
    for key in [key for key in _preloaded if key[0] == owner_id]:
        _preloaded.discard(key)


def ledger_accounts_preload(*, owner_ids: set[int], asset_ids: tuple[int, ...]) -> None:
    """One query for the trading accounts (available, locked) of owners not cached yet."""
    missing = [
        owner_id
        for owner_id in owner_ids
        if (owner_id, asset_ids) not in _preloaded
        and any(
            (owner_id, kind, asset_id) not in _account_ids
            for kind in _TRADING_KINDS
            for asset_id in asset_ids
        )
    ]
    if not missing:
        return
    _preloaded.update((owner_id, asset_ids) for owner_id in missing)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT owner_id, kind, asset_id, id FROM exchange_ledgeraccount"
            " WHERE owner_id = ANY(%s) AND asset_id = ANY(%s) AND kind = ANY(%s)",
            [missing, list(asset_ids), list(_TRADING_KINDS)],
        )
        for owner_id, kind, asset_id, account_id in cursor.fetchall():
            _account_ids[(owner_id, kind, asset_id)] = account_id


@dataclass(slots=True)
class PendingEntry:
    kind: str
    reference: str
    # (account id, asset id, amount)
    lines: list[tuple[int, int, Decimal]] = field(default_factory=list)

    def add(self, account_id: int, asset_id: int, amount: Decimal) -> None:
        if amount:
            self.lines.append((account_id, asset_id, amount))


def _check_balanced(entry: PendingEntry) -> None:
    totals: dict[int, Decimal] = {}
    for _, asset_id, amount in entry.lines:
        totals[asset_id] = totals.get(asset_id, 0) + amount
    if len(entry.lines) < 2 or any(totals.values()):
        raise LedgerImbalance(f"unbalanced batch entry {entry.reference}: {totals}")


def ledger_entries_insert(entries: Sequence[PendingEntry]) -> None:
    """The journal entries and lines of `entries` (each checked balanced; raises LedgerImbalance),
    not yet the balances: `ledger_balances_apply` must follow for the same entries in the same
    transaction. Locks nothing, so a batch can write these while the previous one commits."""
    entries = [entry for entry in entries if entry.lines]
    if not entries:
        return
    for entry in entries:
        _check_balanced(entry)
    with transaction.atomic(savepoint=False):
        entry_ids = allocate_ids("exchange_journalentry", len(entries))
        now = str(timezone.now())  # in COPY's text format once, not once per row
        copy_text(
            "exchange_journalentry",
            ("id", "kind", "reference", "memo", "created_at"),
            "".join(
                [
                    f"{entry_id}\t{entry.kind}\t{copy_escape(entry.reference)}\t\t{now}\n"
                    for entry_id, entry in zip(entry_ids, entries, strict=True)
                ]
            ),
        )
        copy_text(
            "exchange_journalline",
            ("entry_id", "account_id", "asset_id", "amount"),
            "".join(
                [
                    f"{entry_id}\t{account_id}\t{asset_id}\t{amount!s}\n"
                    for entry_id, entry in zip(entry_ids, entries, strict=True)
                    for account_id, asset_id, amount in entry.lines
                ]
            ),
        )


# The batch's accounts locked in id order (the lock policy of exchange/services/ledger.py), so a
# concurrent placement holding funds on the API side queues behind the batch instead of deadlocking.
LEDGER_LOCK_SQL = (
    "SELECT id, kind, balance FROM exchange_ledgeraccount WHERE id = ANY(%s::bigint[])"
    " ORDER BY id FOR NO KEY UPDATE"
)

# Moves only rows already locked by LEDGER_LOCK_SQL. A funds-holding bucket that would go below
# zero is left alone rather than refused by the table's check constraint: the statement may run
# before its caller has looked at the locked balances (pipelined with them, exchange/services/
# settlement.py), and `ledger_balances_check` then raises InsufficientFunds, rolling it all back.
_SIGNED_SQL = ", ".join(f"'{kind}'" for kind in sorted(_SIGNED))
LEDGER_MOVE_SQL = f"""UPDATE exchange_ledgeraccount AS t SET balance = t.balance + s.delta, updated_at = %s
  FROM unnest(%s::bigint[], %s::numeric[]) AS s(id, delta)
 WHERE t.id = s.id AND t.id = ANY(%s::bigint[])
   AND (t.balance + s.delta >= 0 OR t.kind IN ({_SIGNED_SQL}))"""  # noqa: S608  (the kinds are constants)


def ledger_deltas(entries: Sequence[PendingEntry]) -> dict[int, Decimal]:
    """Per account id, what the lines of `entries` move it by (zero for lines that cancel out)."""
    deltas: dict[int, Decimal] = {}
    for entry in entries:
        for account_id, _, amount in entry.lines:
            deltas[account_id] = deltas.get(account_id, 0) + amount
    return deltas


def ledger_lock_params(deltas: dict[int, Decimal]) -> list[str]:
    return [array_literal(sorted(deltas))]


def ledger_move_params(deltas: dict[int, Decimal]) -> list[Any] | None:
    """LEDGER_MOVE_SQL's parameters, or None when nothing moves."""
    moved = [(account_id, delta) for account_id, delta in deltas.items() if delta]
    if not moved:
        return None
    ids = array_literal([account_id for account_id, _ in moved])
    return [timezone.now(), ids, array_literal([delta for _, delta in moved]), ids]


def ledger_balances_check(rows: Sequence[tuple[int, str, Decimal]], deltas: dict[int, Decimal]) -> None:
    """Raise LedgerImbalance (an account gone) or InsufficientFunds if moving the locked accounts
    `rows` (LEDGER_LOCK_SQL's answer: balances before the move) by `deltas` breaks the ledger."""
    if len(rows) != len(deltas):
        # Cached ids that no longer exist (a database rebuilt under a long-lived worker):
        # forget them all; the batch fails whole and the next drain looks them up again.
        _account_ids.clear()
        _preloaded.clear()
        raise LedgerImbalance(f"{len(deltas) - len(rows)} ledger accounts of the batch do not exist")
    for account_id, kind, balance in rows:
        if kind not in _SIGNED and balance + deltas[account_id] < 0:
            raise InsufficientFunds(f"ledger account {account_id} would go below zero")


def ledger_balances_apply(entries: Sequence[PendingEntry]) -> None:
    """Move the balances by the lines of `entries` (already inserted by `ledger_entries_insert`).
    Raises LedgerImbalance (an account gone) or InsufficientFunds."""
    deltas = ledger_deltas(entries)
    if not deltas:
        return
    with transaction.atomic(savepoint=False), prepared_cursor() as cursor:
        cursor.execute(LEDGER_LOCK_SQL, ledger_lock_params(deltas))
        ledger_balances_check(cursor.fetchall(), deltas)
        params = ledger_move_params(deltas)
        if params is not None:
            cursor.execute(LEDGER_MOVE_SQL, params)


# Entries and their lines in one statement, for a small batch: unlike COPY (and the id allocation
# before it) it can be pipelined with the statements around it (exchange/services/settlement.py).
# Entry ids are taken in the entries' order, lines are inserted in theirs, as with COPY.
ENTRIES_INSERT_SQL = """WITH entry AS (
    SELECT nextval(pg_get_serial_sequence('exchange_journalentry', 'id')) AS id, e.kind, e.reference, e.n
      FROM unnest(%s::varchar[], %s::varchar[]) WITH ORDINALITY AS e(kind, reference, n)),
inserted AS (
    INSERT INTO exchange_journalentry (id, kind, reference, memo, created_at)
    SELECT id, kind, reference, '', %s::timestamptz FROM entry ORDER BY n)
INSERT INTO exchange_journalline (entry_id, account_id, asset_id, amount)
SELECT entry.id, line.account_id, line.asset_id, line.amount
  FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[])
       WITH ORDINALITY AS line(entry_n, account_id, asset_id, amount, n)
  JOIN entry ON entry.n = line.entry_n
 ORDER BY line.n"""


def ledger_entries_params(entries: Sequence[PendingEntry]) -> list[Any] | None:
    """ENTRIES_INSERT_SQL's parameters for the `entries` that have lines, each checked balanced
    (raises LedgerImbalance); None if none has. As with `ledger_entries_insert`,
    `ledger_balances_apply` (or its statements) must follow in the same transaction."""
    entries = [entry for entry in entries if entry.lines]
    if not entries:
        return None
    for entry in entries:
        _check_balanced(entry)
    lines = [(number, line) for number, entry in enumerate(entries, 1) for line in entry.lines]
    return [
        array_literal([entry.kind for entry in entries]),
        array_literal([entry.reference for entry in entries]),
        timezone.now(),
        array_literal([number for number, _ in lines]),
        array_literal([line[0] for _, line in lines]),
        array_literal([line[1] for _, line in lines]),
        array_literal([line[2] for _, line in lines]),
    ]
