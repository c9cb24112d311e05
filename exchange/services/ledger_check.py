"""Recompute the ledger from its lines and report every broken invariant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from exchange.models.ledger import SIGNED_KINDS


@dataclass
class LedgerReport:
    checked_accounts: int = 0
    checked_entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# Each check is one SQL statement returning rows that describe violations.
CHECKS: list[tuple[str, str]] = [
    (
        "entry does not sum to zero per asset",
        """SELECT l.entry_id, a.symbol, SUM(l.amount) FROM exchange_journalline l
           JOIN exchange_asset a ON a.id = l.asset_id GROUP BY l.entry_id, a.symbol
           HAVING SUM(l.amount) <> 0 ORDER BY l.entry_id""",
    ),
    (
        "entry with fewer than two lines",
        """SELECT e.id, COUNT(l.id) FROM exchange_journalentry e
           LEFT JOIN exchange_journalline l ON l.entry_id = e.id GROUP BY e.id HAVING COUNT(l.id) < 2""",
    ),
    (
        "line asset differs from its account's asset",
        """SELECT l.id, l.asset_id, acc.asset_id FROM exchange_journalline l
           JOIN exchange_ledgeraccount acc ON acc.id = l.account_id WHERE l.asset_id <> acc.asset_id""",
    ),
    (
        "stored balance differs from the sum of its lines",
        """SELECT acc.id, acc.kind, acc.balance, COALESCE(SUM(l.amount), 0) FROM exchange_ledgeraccount acc
           LEFT JOIN exchange_journalline l ON l.account_id = acc.id GROUP BY acc.id
           HAVING acc.balance <> COALESCE(SUM(l.amount), 0) ORDER BY acc.id""",
    ),
    (
        "sum of all balances of an asset is not zero",
        """SELECT a.symbol, SUM(acc.balance) FROM exchange_ledgeraccount acc
           JOIN exchange_asset a ON a.id = acc.asset_id GROUP BY a.symbol HAVING SUM(acc.balance) <> 0""",
    ),
    (
        "negative balance in an account that holds funds",
        """SELECT acc.id, acc.kind, acc.balance FROM exchange_ledgeraccount acc
           WHERE acc.balance < 0 AND acc.kind NOT IN ({signed})""",
    ),
    (
        "funds inside differ from confirmed deposits minus confirmed withdrawals",
        # A withdrawal sends its quantity out; its fee stays inside, in the house FEES account.
        # Rows: asset, funds inside (-external), deposits - withdrawals.
        """SELECT a.symbol, -COALESCE(ext.balance, 0), COALESCE(dep.total, 0) - COALESCE(wd.total, 0)
           FROM exchange_asset a
           LEFT JOIN exchange_ledgeraccount ext ON ext.asset_id = a.id AND ext.owner_id IS NULL
                AND ext.kind = 'external'
           LEFT JOIN (SELECT asset_id, SUM(quantity) AS total FROM exchange_deposit
                      WHERE status = 'confirmed' GROUP BY asset_id) dep ON dep.asset_id = a.id
           LEFT JOIN (SELECT asset_id, SUM(quantity) AS total FROM exchange_withdrawal
                      WHERE status = 'confirmed' GROUP BY asset_id) wd ON wd.asset_id = a.id
           WHERE -COALESCE(ext.balance, 0) <> COALESCE(dep.total, 0) - COALESCE(wd.total, 0)""",
    ),
    (
        "confirmed deposit without its ledger entry",
        """SELECT d.id FROM exchange_deposit d WHERE d.status = 'confirmed' AND d.entry_id IS NULL""",
    ),
    (
        "withdrawal without its hold entry",
        """SELECT w.id, w.status FROM exchange_withdrawal w WHERE w.hold_entry_id IS NULL ORDER BY w.id""",
    ),
    (
        "confirmed withdrawal without its settlement entry",
        """SELECT w.id FROM exchange_withdrawal w
           WHERE w.status = 'confirmed' AND w.settle_entry_id IS NULL ORDER BY w.id""",
    ),
    (
        "withdrawal in a non-final state whose locked hold is not covered",
        # Locked also holds open orders, so it may exceed the pending withdrawals, never fall short.
        # Rows: user, asset, quantity + fee of the pending withdrawals, locked balance.
        """SELECT w.user_id, a.symbol, SUM(w.quantity + w.fee), COALESCE(MAX(acc.balance), 0)
           FROM exchange_withdrawal w JOIN exchange_asset a ON a.id = w.asset_id
           LEFT JOIN exchange_ledgeraccount acc ON acc.owner_id = w.user_id AND acc.asset_id = w.asset_id
                AND acc.kind = 'locked'
           WHERE w.status IN ('requested', 'approved', 'signed', 'broadcast')
           GROUP BY w.user_id, a.symbol HAVING SUM(w.quantity + w.fee) > COALESCE(MAX(acc.balance), 0)
           ORDER BY w.user_id, a.symbol""",
    ),
]


def ledger_check(progress: Callable[[str], None] | None = None) -> LedgerReport:
    """Run every invariant check in one repeatable-read snapshot, or inside the caller's transaction."""
    report = LedgerReport()
    signed = ", ".join(f"'{kind.value}'" for kind in SIGNED_KINDS)
    # Outside a transaction the checks get their own snapshot. Inside one (a caller's atomic block,
    # a test) PostgreSQL refuses to set the isolation level after the first query, and a COMMIT here
    # would end the caller's transaction under it: there the checks read within that transaction.
    own_transaction = connection.get_autocommit()
    with connection.cursor() as cursor:
        if own_transaction:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cursor.execute("SELECT COUNT(*) FROM exchange_ledgeraccount")
            report.checked_accounts = cursor.fetchone()[0]
            cursor.execute("SELECT COUNT(*) FROM exchange_journalentry")
            report.checked_entries = cursor.fetchone()[0]
            for name, sql in CHECKS:
                if progress is not None:
                    progress(name)
                cursor.execute(sql.format(signed=signed))
                for row in cursor.fetchall():
                    shown = ", ".join(f"{v.normalize():f}" if isinstance(v, Decimal) else str(v) for v in row)
                    report.problems.append(f"{name}: {shown}")
        finally:
            if own_transaction:
                cursor.execute("COMMIT")
    return report
