"""The audit trail: a linear hash chain, refused UPDATE/DELETE in the database, and a verifier
that finds every edited, deleted, reordered or truncated entry.

Tampering tests disable the append-only trigger inside the test's transaction (as a table owner
could), change rows with raw SQL, and check that `verify_audit_chain` exits non-zero naming the
entry; the transaction rollback restores the trigger.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from compliance.models import GENESIS_HASH, AuditEntry
from compliance.services.audit import audit_record, audit_verify, canonical_json, entry_payload

TRIGGER = "compliance_auditentry_append_only"


@pytest.fixture
def chain(db, alice, carol):  # type: ignore[no-untyped-def]
    """Five entries from people and the system."""
    audit_record(
        actor=carol,
        action="account.freeze",
        target=alice,
        before={"is_frozen": False},
        after={"is_frozen": True},
    )
    audit_record(
        actor=None, action="watchlist.load", target=("compliance.source", "sample"), after={"added": 3}
    )
    audit_record(
        actor=carol, action="note", target=("accounts.user", alice.pk), after={"amount": Decimal("1.50")}
    )
    audit_record(
        actor=carol, action="note", target=alice, after={"born": date(1970, 1, 2), "tags": {"b", "a"}}
    )
    audit_record(actor=None, action="note", target=alice)
    return list(AuditEntry.objects.order_by("id"))


def raw(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        # Django's foreign keys are deferred; ALTER TABLE needs their pending checks run first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE compliance_auditentry DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params or [])
        cursor.execute(f"ALTER TABLE compliance_auditentry ENABLE TRIGGER {TRIGGER}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit_chain", *args, verbosity=0, stdout=out, stderr=out)
    return out.getvalue()


def test_entries_form_a_linear_chain(chain, alice, carol):
    assert [e.id for e in chain] == [1, 2, 3, 4, 5]
    assert chain[0].previous_hash == GENESIS_HASH
    for previous, entry in pairwise(chain):
        assert entry.previous_hash == previous.hash
    first = chain[0]
    assert (first.actor, first.object_type, first.object_id) == (carol, "accounts.user", str(alice.pk))
    assert first.hash == hashlib.sha256(canonical_json(entry_payload(first)).encode()).hexdigest()
    assert chain[2].after == {"amount": "1.50"}
    assert chain[3].after == {"born": "1970-01-02", "tags": ["a", "b"]}


def test_an_untouched_chain_verifies(chain):
    report = audit_verify()

    assert report.ok
    assert (report.checked, report.head_id, report.head_hash) == (5, 5, chain[-1].hash)
    assert f"head 5:{chain[-1].hash}" in verify("--anchor", f"2:{chain[1].hash}")


def test_an_empty_chain_verifies(db):
    assert "0 entries; head empty" in verify()


def test_the_database_refuses_updates_and_deletes(chain):
    for statement in (
        "UPDATE compliance_auditentry SET action = 'x' WHERE id = 2",
        "DELETE FROM compliance_auditentry WHERE id = 5",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=1).delete()
    assert list(AuditEntry.objects.order_by("id")) == chain
    assert audit_verify().ok


def test_an_edited_entry_is_detected(chain):
    raw("UPDATE compliance_auditentry SET after = %s WHERE id = 3", [json.dumps({"amount": "150"})])

    with pytest.raises(CommandError, match="audit chain broken"):
        verify()
    assert audit_verify().problems == ["entry #3 was edited: its hash does not match its fields"]


def test_an_edit_that_recomputes_its_hash_breaks_the_next_link(chain):
    edited = AuditEntry.objects.get(pk=3)
    edited.after = {"amount": "150"}
    new_hash = hashlib.sha256(canonical_json(entry_payload(edited)).encode()).hexdigest()
    raw(
        "UPDATE compliance_auditentry SET after = %s, hash = %s WHERE id = 3",
        [json.dumps(edited.after), new_hash],
    )

    problems = audit_verify().problems

    assert len(problems) == 1
    assert problems[0].startswith("entry #4 does not follow #3")


def test_a_deleted_entry_is_detected(chain):
    raw("DELETE FROM compliance_auditentry WHERE id = 2")

    problems = audit_verify().problems

    assert problems[0] == "entries 2..2 are missing (deleted) before #3"
    assert problems[1].startswith("entry #3 does not follow #1")
    with pytest.raises(CommandError):
        verify()


def test_reordered_entries_are_detected(chain):
    raw("UPDATE compliance_auditentry SET id = -2 WHERE id = 2")
    raw("UPDATE compliance_auditentry SET id = 2 WHERE id = 3")
    raw("UPDATE compliance_auditentry SET id = 3 WHERE id = -2")

    problems = audit_verify().problems

    assert "entry #2 was edited: its hash does not match its fields" in problems
    assert any(p.startswith("entry #2 does not follow #1") for p in problems)


def test_truncation_is_caught_by_an_anchor(chain):
    head = f"5:{chain[-1].hash}"
    raw("DELETE FROM compliance_auditentry WHERE id >= 4")

    assert audit_verify().ok  # a shorter chain is still a valid chain...
    with pytest.raises(CommandError):
        verify("--anchor", head)  # ...but not the one recorded earlier
    assert audit_verify(anchors=[(5, chain[-1].hash)]).problems == [
        "anchor #5 is missing: the chain was truncated"
    ]


def test_appends_after_tampering_do_not_hide_it(chain, carol, alice):
    raw("UPDATE compliance_auditentry SET action = 'nothing' WHERE id = 1")
    audit_record(actor=carol, action="note", target=alice)

    assert audit_verify().problems == ["entry #1 was edited: its hash does not match its fields"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_linear():
    """Writers in parallel transactions produce ids 1..n without a fork or a failure: the audit
    lock serialises reading the head. Without it, two writers would read the same head and the
    second insert would fail on the primary key (the id is the chain position)."""
    from threading import Barrier, Thread

    writers, per_writer = 3, 5
    start = Barrier(writers)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            start.wait()
            for step in range(per_writer):
                with transaction.atomic():
                    audit_record(
                        actor=None, action="note", target=("test.writer", number), after={"step": step}
                    )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    report = audit_verify()
    assert report.ok, report.problems
    assert report.checked == writers * per_writer
