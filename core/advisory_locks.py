"""Every PostgreSQL advisory-lock namespace the project uses, in one place.

Locks are taken as `pg_advisory_lock(namespace, key)`. Two subsystems sharing a namespace block
each other invisibly (the audit trail once shared the outbox publisher's and every audited write
then waited for as long as a publisher ran), so each namespace is declared here and `@unique`
refuses a duplicate at import.
"""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class AdvisoryNamespace(IntEnum):
    MATCHING = 0x5A7C  # key: market id; session lock held by the market's one writer
    OUTBOX_PUBLISHER = 0x5A7D  # key: 1; session lock held for the publisher's whole life
    WATCHLIST_SOURCE = 0x5A7E  # key: crc32 of the list source; one load of a list at a time
    WITHDRAWAL_LIMIT = 0x5A80  # key: user id; one withdrawal request per user at a time
    AUDIT_CHAIN = 0x5A81  # key: 1; one writer appends to the hash chain at a time
