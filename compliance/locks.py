"""Every lock the compliance services take, in one place, with the order they are taken in.

Order inside one transaction (never the reverse, so two writers cannot deadlock):

    1. list_source_lock(source)   a list load; serialises two loads of one source
    2. compliance_flag_lock(flag) a user's freeze state (row lock, FOR NO KEY UPDATE)
    3. audit_lock()               appending to the audit trail: always last, held to commit

All are transaction-scoped: PostgreSQL releases them at commit or rollback, so a crashed writer
never leaves one behind. Alert decisions need no lock: they are a compare-and-set UPDATE.
"""

from __future__ import annotations

import zlib

from django.db import connection

from compliance.models import ComplianceFlag
from core.advisory_locks import AdvisoryNamespace

# First keys of pg_advisory_xact_lock(int, int): every namespace is declared in core.advisory_locks.
AUDIT_NAMESPACE = int(AdvisoryNamespace.AUDIT_CHAIN)
LIST_SOURCE_NAMESPACE = int(AdvisoryNamespace.WATCHLIST_SOURCE)
AUDIT_KEY = 1


def _advisory_xact_lock(namespace: int, key: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, key])


def audit_lock() -> None:
    """Wait for, then hold until commit, the right to append to the audit trail."""
    _advisory_xact_lock(AUDIT_NAMESPACE, AUDIT_KEY)


def list_source_lock(source: str) -> None:
    """Wait for, then hold until commit, the right to load `source` (keyed by its crc32)."""
    _advisory_xact_lock(LIST_SOURCE_NAMESPACE, zlib.crc32(source.encode()) - 2**31)


def compliance_flag_lock(flag_id: int) -> ComplianceFlag:
    """The flag, locked for update until commit."""
    return ComplianceFlag.objects.select_for_update(no_key=True).get(pk=flag_id)
