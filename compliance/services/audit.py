"""The audit trail: append-only, hash-chained entries (MiCA Art. 68 records, AMLD record keeping).

Each entry's `hash` is sha256 over the canonical JSON (sorted keys, no spaces, UTF-8) of

    {"id", "created_at" (UTC ISO 8601 to the microsecond), "actor_id", "action", "object_type",
     "object_id", "before", "after", "previous_hash"}

and `previous_hash` is the hash of the entry before it (GENESIS_HASH for the first), so editing,
deleting or reordering any entry breaks the chain from there on (`audit_verify`). Deleting the
newest entries leaves a shorter valid chain; an anchor (an id and its hash recorded elsewhere,
e.g. printed by `verify_audit_chain` into the operations log) catches that.

Locking: writers take a transaction-level advisory lock before reading the chain's head and hold
it until their transaction commits. Without it two writers would read the same head and both
append after it, forking the chain; with it, ids are assigned in commit order without gaps (a
writer that rolls back releases the lock with nothing appended). The lock serialises audited
writes only, which are staff decisions and list loads, not the trading path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import User
from compliance.locks import audit_lock
from compliance.models import GENESIS_HASH, AuditEntry

OBJECT_FIELD_LENGTH = 64

Target = models.Model | tuple[str, str | int]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    )


def json_value(value: Any) -> Any:
    """`value` as it will read back from a jsonb column (Decimals and dates as strings)."""
    return None if value is None else json.loads(canonical_json(value))


def entry_payload(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "created_at": entry.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "previous_hash": entry.previous_hash,
    }


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical_json(entry_payload(entry)).encode()).hexdigest()


def _target(target: Target) -> tuple[str, str]:
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk)
    object_type, object_id = target
    return str(object_type), str(object_id)


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Target,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one entry; `actor` None for the system. `target` is a model instance or a
    (type, id) pair. `before`/`after` are JSON-able (Decimal, dates, UUIDs become strings).

    Joins the caller's transaction (the entry commits or rolls back with the change it records)
    and holds the audit lock until that transaction ends.
    """
    object_type, object_id = _target(target)
    if len(object_type) > OBJECT_FIELD_LENGTH or len(object_id) > OBJECT_FIELD_LENGTH or len(action) > 64:
        raise ValueError("audit action, object type and object id are at most 64 characters")
    with transaction.atomic(savepoint=False):
        audit_lock()
        head = AuditEntry.objects.order_by("-id").values_list("id", "hash").first()
        entry = AuditEntry(
            id=(head[0] + 1) if head else 1,
            created_at=timezone.now(),
            actor_id=actor.pk if actor is not None else None,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=json_value(before),
            after=json_value(after),
            previous_hash=head[1] if head else GENESIS_HASH,
        )
        entry.hash = entry_hash(entry)
        entry.save(force_insert=True)
        return entry


@dataclass
class AuditReport:
    checked: int = 0
    head_id: int | None = None
    head_hash: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit_verify(
    *, anchors: Iterable[tuple[int, str]] = (), progress: Callable[[int], None] | None = None
) -> AuditReport:
    """Walk the chain in id order and report every entry that was edited, removed or moved.

    Checks per entry: its id follows the previous one (a gap is a deleted entry, a repeat or a
    step back a reordering), `previous_hash` equals the previous entry's stored hash, and the
    stored hash equals the hash recomputed from the fields. Each anchor (id, hash) must be found
    with that hash (catches truncation of the newest entries). Reads one snapshot.
    """
    report = AuditReport()
    expected_anchors = dict(anchors)
    previous_id, previous_hash = 0, GENESIS_HASH
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            # One snapshot for the whole walk, so entries appended meanwhile do not matter.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
            if entry.id != previous_id + 1:
                if entry.id > previous_id + 1:
                    report.problems.append(
                        f"entries {previous_id + 1}..{entry.id - 1} are missing (deleted) before #{entry.id}"
                    )
                else:
                    report.problems.append(f"entry #{entry.id} is out of order after #{previous_id}")
            if entry.previous_hash != previous_hash:
                report.problems.append(
                    f"entry #{entry.id} does not follow #{previous_id}: previous_hash "
                    f"{entry.previous_hash[:12]}… != {previous_hash[:12]}…"
                )
            recomputed = entry_hash(entry)
            if recomputed != entry.hash:
                report.problems.append(f"entry #{entry.id} was edited: its hash does not match its fields")
            if entry.id in expected_anchors and expected_anchors.pop(entry.id) != entry.hash:
                report.problems.append(f"anchor #{entry.id} does not match the stored entry")
            previous_id, previous_hash = entry.id, entry.hash
            report.checked += 1
            if progress is not None:
                progress(1)
    for anchor_id in sorted(expected_anchors):
        report.problems.append(f"anchor #{anchor_id} is missing: the chain was truncated")
    if report.checked:
        report.head_id, report.head_hash = previous_id, previous_hash
    return report
