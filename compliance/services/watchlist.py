"""Loading a list source from FollowTheMoney JSON lines, and re-screening customers after it.

A load replaces one source's entries with the file's, in one transaction: new entities are
added, changed ones (a different fingerprint) updated, delisted ones brought back, and the
source's entries missing from the file marked delisted (kept, since alerts refer to them). A
malformed line aborts the whole load, so a truncated or corrupt file can never delist the rest
of the list. Two loads of the same source are serialised by an advisory lock.

After the commit, customers are screened again against the added and changed entries only (a
list update cannot create hits on unchanged entries), and the destinations of past withdrawals
and the origins of past deposits are checked against added and changed wallets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from compliance.locks import list_source_lock
from compliance.models import EntrySchema, ScreeningProfile, WatchlistEntry
from compliance.rules.addresses import AddressBlocklist, normalise_address
from compliance.rules.ftm import EntityFormatError, ParsedEntity, parse_line
from compliance.rules.screening import KIND_ADDRESS, ScreeningIndex
from compliance.services.audit import audit_record
from compliance.services.screening import alert_raise, alerts_raise_for_hits, watch_entry
from core.errors import InvalidRequest

BATCH_SIZE = 500
SOURCE_MAX_LENGTH = WatchlistEntry._meta.get_field("source").max_length or 64
UPDATED_FIELDS = [
    "schema",
    "caption",
    "names",
    "weak_aliases",
    "birth_dates",
    "countries",
    "topics",
    "addresses",
    "currencies",
    "datasets",
    "fingerprint",
    "updated_at",
    "delisted_at",
]


class WatchlistFormatError(InvalidRequest):
    """A line of the file is not a FollowTheMoney entity; nothing was loaded."""


@dataclass
class LoadReport:
    source: str
    lines: int = 0
    added: int = 0
    updated: int = 0
    relisted: int = 0
    unchanged: int = 0
    delisted: int = 0
    skipped: int = 0  # entities of schemas that are not screened
    duplicates: int = 0  # an id seen again in the file: the later line wins
    sha256: str = ""
    changed_ids: list[int] = field(default_factory=list)  # added, updated and relisted entries

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "lines": self.lines,
            "added": self.added,
            "updated": self.updated,
            "relisted": self.relisted,
            "unchanged": self.unchanged,
            "delisted": self.delisted,
            "skipped": self.skipped,
            "duplicates": self.duplicates,
            "sha256": self.sha256,
        }


def _entry_fields(parsed: ParsedEntity) -> dict[str, object]:
    return {
        "schema": parsed.schema,
        "caption": parsed.caption,
        "names": list(parsed.names),
        "weak_aliases": list(parsed.weak_aliases),
        "birth_dates": list(parsed.birth_dates),
        "countries": list(parsed.countries),
        "topics": list(parsed.topics),
        "addresses": list(parsed.addresses),
        "currencies": list(parsed.currencies),
        "datasets": list(parsed.datasets),
        "fingerprint": parsed.fingerprint(),
    }


def _parsed(lines: Iterable[str], report: LoadReport, digest: Any) -> Iterator[ParsedEntity]:
    for number, line in enumerate(lines, start=1):
        report.lines = number
        digest.update(line.encode())
        try:
            parsed = parse_line(line)
        except EntityFormatError as exc:
            raise WatchlistFormatError(f"line {number}: {exc}") from exc
        if parsed is None:
            if line.strip():
                report.skipped += 1
            continue
        yield parsed


def watchlist_load(*, source: str, lines: Iterable[str], allow_empty: bool = False) -> LoadReport:
    """Make `source`'s active entries exactly the entities in `lines` (JSON lines, one entity
    each). Returns the counts and the ids of added/updated/relisted entries for re-screening.

    Raises InvalidRequest (bad source name; a file without any screened entity unless
    `allow_empty`, which would delist the whole source) and WatchlistFormatError (a malformed
    line); nothing changes then.
    """
    source = source.strip()
    if not source or len(source) > SOURCE_MAX_LENGTH:
        raise InvalidRequest(f"A source name has 1 to {SOURCE_MAX_LENGTH} characters")
    report = LoadReport(source=source)
    digest = hashlib.sha256()
    with transaction.atomic(durable=True):
        list_source_lock(source)
        # Taken after the lock: a load that waited for another stamps later times than it, so
        # the latest updated_at (person_index's cache version) always moves.
        now = timezone.now()
        existing = {
            entity_id: (pk, fingerprint, delisted_at)
            for entity_id, pk, fingerprint, delisted_at in WatchlistEntry.objects.filter(
                source=source
            ).values_list("entity_id", "id", "fingerprint", "delisted_at")
        }
        seen: set[str] = set()
        batch: dict[str, ParsedEntity] = {}
        for parsed in _parsed(lines, report, digest):
            if parsed.entity_id in seen or parsed.entity_id in batch:
                report.duplicates += 1
            batch[parsed.entity_id] = parsed
            if len(batch) >= BATCH_SIZE:
                _write_batch(batch, existing, seen, source, now, report)
                batch = {}
        if batch:
            _write_batch(batch, existing, seen, source, now, report)
        report.sha256 = digest.hexdigest()
        if not seen and not allow_empty:
            raise InvalidRequest(
                f"No screened entity in the file: refusing to delist all of {source} (use allow_empty)"
            )
        missing = [
            pk
            for entity_id, (pk, _, delisted_at) in existing.items()
            if entity_id not in seen and delisted_at is None
        ]
        for start in range(0, len(missing), BATCH_SIZE):
            report.delisted += WatchlistEntry.objects.filter(
                pk__in=missing[start : start + BATCH_SIZE], delisted_at__isnull=True
            ).update(delisted_at=now, updated_at=now)
        audit_record(
            actor=None, action="watchlist.load", target=("compliance.source", source), after=report.as_dict()
        )
    return report


def _write_batch(
    batch: dict[str, ParsedEntity],
    existing: dict[str, tuple[int, str, object]],
    seen: set[str],
    source: str,
    now: datetime,
    report: LoadReport,
) -> None:
    new: list[WatchlistEntry] = []
    changed: list[WatchlistEntry] = []
    for entity_id, parsed in batch.items():
        fields = _entry_fields(parsed)
        if entity_id in seen:
            # A duplicate id across batches: update the row written earlier in this load.
            pk = existing[entity_id][0]
            changed.append(WatchlistEntry(pk=pk, **fields, updated_at=now, delisted_at=None))
            continue
        seen.add(entity_id)
        if entity_id not in existing:
            new.append(
                WatchlistEntry(
                    source=source, entity_id=entity_id, **fields, first_seen_at=now, updated_at=now
                )
            )
            continue
        pk, fingerprint, delisted_at = existing[entity_id]
        if fingerprint == fields["fingerprint"] and delisted_at is None:
            report.unchanged += 1
            continue
        if delisted_at is not None:
            report.relisted += 1
        else:
            report.updated += 1
        changed.append(WatchlistEntry(pk=pk, **fields, updated_at=now, delisted_at=None))
        report.changed_ids.append(pk)
    if new:
        created = WatchlistEntry.objects.bulk_create(new)
        report.added += len(created)
        for entry in created:
            existing[entry.entity_id] = (entry.pk, entry.fingerprint, None)
            report.changed_ids.append(entry.pk)
    if changed:
        WatchlistEntry.objects.bulk_update(changed, UPDATED_FIELDS)


# --- re-screening ---------------------------------------------------------------------------------


@dataclass
class RescreenReport:
    profiles: int = 0
    name_alerts: int = 0
    addresses: int = 0
    address_alerts: int = 0


def watchlist_rescreen(
    *,
    entry_ids: Iterable[int] | None = None,
    context: str = "rescreen",
    progress: Callable[[int], None] | None = None,
) -> RescreenReport:
    """Screen every screening profile against the given entries (all active ones when None),
    and past withdrawal destinations and deposit origins against their wallets. Only new alerts
    are counted; an alert already open, confirmed, or dismissed on the same data is not repeated.
    """
    entries = WatchlistEntry.objects.filter(delisted_at__isnull=True)
    if entry_ids is not None:
        ids = list(entry_ids)
        if not ids:
            return RescreenReport()
        entries = entries.filter(pk__in=ids)
    report = RescreenReport()
    index = ScreeningIndex(
        watch_entry(e) for e in entries.filter(schema=EntrySchema.PERSON).iterator(chunk_size=2000)
    )
    if len(index):
        for profile in (
            ScreeningProfile.objects.select_related("user").order_by("id").iterator(chunk_size=500)
        ):
            report.profiles += 1
            hits = index.screen(profile.full_name, profile.birth_date)
            raised = alerts_raise_for_hits(
                user=profile.user,
                full_name=profile.full_name,
                birth_date=profile.birth_date,
                hits=hits,
                context=context,
            )
            report.name_alerts += sum(1 for r in raised if r.created)
            if progress is not None:
                progress(1)
    wallets = AddressBlocklist(
        (address, entry)
        for entry in entries.filter(schema=EntrySchema.CRYPTO_WALLET)
        for address in entry.addresses
    )
    if len(wallets):
        _rescreen_counterparties(wallets, context, report)
    return report


def _counterparties() -> Iterator[tuple[int, str, str]]:
    """(user id, chain, address) of past withdrawal destinations and deposit origins."""
    from exchange.models import Deposit, Withdrawal  # exchange will import compliance's gate

    yield from Withdrawal.objects.values_list("user_id", "blockchain", "to_address").distinct().iterator()
    yield from (
        Deposit.objects.exclude(from_address="")
        .values_list("user_id", "source", "from_address")
        .distinct()
        .iterator()
    )


def _rescreen_counterparties(
    wallets: dict[str, WatchlistEntry], context: str, report: RescreenReport
) -> None:
    from accounts.models import User

    for user_id, blockchain, address in _counterparties():
        report.addresses += 1
        entry = wallets.match(address, blockchain)
        if entry is None:
            continue
        normalised = normalise_address(address, blockchain)
        with transaction.atomic():
            outcome = alert_raise(
                subject=User.objects.get(pk=user_id),
                entry=entry,
                kind=KIND_ADDRESS,
                score=100,
                reasons=[
                    f"past counterparty address {address} on {blockchain} is listed wallet {entry.caption}",
                    f"list {entry.source}, entity {entry.entity_id}",
                ],
                context=context,
                address=normalised,
                blockchain=blockchain,
            )
        if outcome is not None and outcome.created:
            report.address_alerts += 1
