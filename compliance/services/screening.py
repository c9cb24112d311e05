"""Screening customers and addresses, and the officers' decisions on the alerts it raises.

Sanctions screening at onboarding, on every list update and on transfers; freeze on a confirmed
match (AMLD/AMLR customer due diligence; EU Regulation 269/2014 Art. 2 asset freeze). PEP hits
call for enhanced due diligence rather than a freeze, but confirming any alert freezes the account
until an officer unfreezes it: the decision to let a PEP trade is a separate, recorded one.

Locking (`compliance/locks.py`): an alert decision is a compare-and-set `UPDATE ... WHERE
status = 'open'` that must change one row, so two officers deciding one alert at once cannot
both win. Freezes update the user's ComplianceFlag under its row lock. Every decision writes an
audit entry in the same transaction (`audit_record`), which takes the audit lock last.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.models import User
from compliance.models import (
    Alert,
    AlertStatus,
    ComplianceFlag,
    EntrySchema,
    ScreeningProfile,
    WatchlistEntry,
)
from compliance.rules.addresses import normalise_address
from compliance.rules.screening import KIND_ADDRESS, Hit, ScreeningIndex, WatchEntry
from compliance.services.audit import audit_record
from compliance.services.freezes import DECIDE_PERMISSION, account_freeze_for_alert
from core.errors import DomainError, Forbidden, InvalidRequest

FULL_NAME_MAX_LENGTH = ScreeningProfile._meta.get_field("full_name").max_length or 300
ADDRESS_MAX_LENGTH = Alert._meta.get_field("address").max_length or 128


class AlertStateError(DomainError):
    """The alert was already decided: nothing changed."""

    code = "PRECONDITION_FAILED"


# --- the in-process index of person entries ------------------------------------------------------


@dataclass
class _IndexCache:
    version: tuple[object, ...] | None = None
    index: ScreeningIndex | None = None


_cache = _IndexCache()
_cache_lock = threading.Lock()


def watch_entry(entry: WatchlistEntry) -> WatchEntry:
    return WatchEntry.build(
        key=str(entry.pk),
        schema=entry.schema,
        names=entry.names,
        birth_dates=entry.birth_dates,
        topics=entry.topics,
    )


def person_index() -> ScreeningIndex:
    """The blocking index over active Person entries, rebuilt when the lists changed.

    The version (count, latest update, latest delisting) costs one aggregate query; a load
    always moves one of them, so a stale index is never used after it commits.
    """
    active = WatchlistEntry.objects.filter(schema=EntrySchema.PERSON)
    version = tuple(
        active.aggregate(
            count=Count("id", filter=Q(delisted_at__isnull=True)),
            updated=Max("updated_at"),
            delisted=Max("delisted_at"),
        ).values()
    )
    with _cache_lock:
        if _cache.version == version and _cache.index is not None:
            return _cache.index
    entries = active.filter(delisted_at__isnull=True).only("id", "schema", "names", "birth_dates", "topics")
    index = ScreeningIndex(watch_entry(e) for e in entries.iterator(chunk_size=2000))
    with _cache_lock:
        _cache.version, _cache.index = version, index
    return index


def _snapshot(entry: WatchlistEntry) -> dict[str, object]:
    return {
        "source": entry.source,
        "entity_id": entry.entity_id,
        "schema": entry.schema,
        "caption": entry.caption,
        "names": entry.names,
        "birth_dates": entry.birth_dates,
        "countries": entry.countries,
        "topics": entry.topics,
        "addresses": entry.addresses,
    }


# --- raising alerts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaisedAlert:
    alert: Alert
    created: bool


def alert_raise(
    *,
    subject: User | None,
    entry: WatchlistEntry,
    kind: str,
    score: int,
    reasons: list[str],
    context: str,
    screened_name: str = "",
    screened_birth_date: date | None = None,
    address: str = "",
    blockchain: str = "",
) -> RaisedAlert | None:
    """The open alert for (subject, entry, kind): an existing one, or a new one with an audit
    entry. None when an officer already decided the same question: a confirmed alert (the account
    is frozen), or a dismissal of the same entry data for the same screened name and birth date
    (re-raised only when the entry or the customer's data changed)."""
    same = Alert.objects.filter(subject=subject, entry=entry, kind=kind)
    existing = same.filter(status=AlertStatus.OPEN).first()
    if existing is not None:
        return RaisedAlert(existing, created=False)
    if same.filter(status=AlertStatus.CONFIRMED).exists():
        return None
    if same.filter(
        status=AlertStatus.DISMISSED,
        entry_fingerprint=entry.fingerprint,
        screened_name=screened_name,
        screened_birth_date=screened_birth_date,
        address=address,
    ).exists():
        return None
    alert = Alert(
        subject=subject,
        kind=kind,
        score=score,
        entry=entry,
        entry_fingerprint=entry.fingerprint,
        entry_snapshot=_snapshot(entry),
        screened_name=screened_name[:FULL_NAME_MAX_LENGTH],
        screened_birth_date=screened_birth_date,
        address=address[:ADDRESS_MAX_LENGTH],
        blockchain=blockchain[:32],
        context=context[:64],
        reasons=reasons,
    )
    try:
        # The savepoint turns a concurrent screening's identical insert (the partial unique
        # constraint) into reading the alert it created.
        with transaction.atomic():
            alert.save(force_insert=True)
    except IntegrityError:
        winner = same.filter(status=AlertStatus.OPEN).first()
        if winner is None:
            raise
        return RaisedAlert(winner, created=False)
    audit_record(
        actor=None,
        action="alert.raise",
        target=alert,
        after={
            "kind": kind,
            "score": score,
            "entry": f"{entry.source}:{entry.entity_id}",
            "subject_id": subject.pk if subject is not None else None,
            "context": context,
        },
    )
    return RaisedAlert(alert, created=True)


def alerts_raise_for_hits(
    *, user: User, full_name: str, birth_date: date | None, hits: list[Hit], context: str
) -> list[RaisedAlert]:
    """Alerts for `hits` of one user's screening (user_screen and list re-screening)."""
    if not hits:
        return []
    entries = WatchlistEntry.objects.in_bulk([int(h.entry.key) for h in hits])
    raised = []
    with transaction.atomic():
        for hit in hits:
            entry = entries.get(int(hit.entry.key))
            if entry is None:
                continue
            outcome = alert_raise(
                subject=user,
                entry=entry,
                kind=hit.kind,
                score=hit.score,
                reasons=list(hit.reasons),
                context=context,
                screened_name=full_name,
                screened_birth_date=birth_date,
            )
            if outcome is not None:
                raised.append(outcome)
    return raised


def user_screen(*, user: User, full_name: str, birth_date: date | None, context: str = "kyc") -> list[Alert]:
    """Screen `full_name` and `birth_date` against the active person entries of every list;
    record them as the user's screening profile (re-screened on every list update) and return
    the open alerts for the hits at or above ALERT_THRESHOLD (new ones, or ones already open).

    Not durable: sign-up may call it inside its own transaction. Raises InvalidRequest for an
    empty or overlong name or a birth date in the future.
    """
    full_name = " ".join(full_name.split())
    if not full_name or len(full_name) > FULL_NAME_MAX_LENGTH:
        raise InvalidRequest(f"A full name has 1 to {FULL_NAME_MAX_LENGTH} characters")
    if birth_date is not None and birth_date > timezone.now().date():
        raise InvalidRequest("The birth date is in the future")
    hits = person_index().screen(full_name, birth_date)
    with transaction.atomic():
        ScreeningProfile.objects.update_or_create(
            user=user,
            defaults={"full_name": full_name, "birth_date": birth_date, "screened_at": timezone.now()},
        )
        raised = alerts_raise_for_hits(
            user=user, full_name=full_name, birth_date=birth_date, hits=hits, context=context
        )
    return [r.alert for r in raised]


def address_screen(
    *, address: str, blockchain: str, user: User | None = None, context: str = ""
) -> Alert | None:
    """The open address alert if `address` (normalised per chain, see rules.addresses) is a
    listed wallet of an active entry; None when it is not listed. A listed address is always an
    exact match, score 100. The alert names `user` as subject when the caller knows the customer.

    A hit an officer dismissed for the same subject and entry data is not raised again (None).
    """
    normalised = normalise_address(address, blockchain)
    if not normalised:
        return None
    entry = (
        WatchlistEntry.objects.filter(
            schema=EntrySchema.CRYPTO_WALLET, delisted_at__isnull=True, addresses__contains=[normalised]
        )
        .order_by("id")
        .first()
    )
    if entry is None:
        return None
    currencies = f" ({', '.join(entry.currencies)})" if entry.currencies else ""
    reasons = [
        f"address {address.strip()} on {blockchain} is listed wallet {entry.caption}{currencies}",
        f"list {entry.source}, entity {entry.entity_id}, topics: {', '.join(entry.topics) or 'none'}",
    ]
    with transaction.atomic():
        outcome = alert_raise(
            subject=user,
            entry=entry,
            kind=KIND_ADDRESS,
            score=100,
            reasons=reasons,
            context=context,
            address=normalised,
            blockchain=blockchain,
        )
    return outcome.alert if outcome is not None else None


def address_is_blocked(*, address: str, blockchain: str) -> bool:
    """True if `address` is a listed wallet of an active entry (a read, raises no alert)."""
    normalised = normalise_address(address, blockchain)
    return WatchlistEntry.objects.filter(
        schema=EntrySchema.CRYPTO_WALLET, delisted_at__isnull=True, addresses__contains=[normalised]
    ).exists()


# --- decisions -------------------------------------------------------------------------------------


def _check_officer(*, officer: User, alert: Alert) -> None:
    if not officer.is_active or not officer.has_perm(DECIDE_PERMISSION):
        raise Forbidden("Only compliance officers may decide alerts")
    if alert.subject_id is not None and alert.subject_id == officer.pk:
        raise Forbidden("An officer may not decide an alert about their own account")


def _decide(*, alert: Alert, officer: User, status: str, reason: str) -> Alert:
    now = timezone.now()
    changed = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=status, decided_at=now, decided_by=officer, decision_reason=reason
    )
    if changed != 1:
        current = Alert.objects.filter(pk=alert.pk).values_list("status", flat=True).first()
        raise AlertStateError(f"Alert {alert.pk} is {current}: it cannot become {status}")
    audit_record(
        actor=officer,
        action=f"alert.{'confirm' if status == AlertStatus.CONFIRMED else 'dismiss'}",
        target=alert,
        before={"status": AlertStatus.OPEN},
        after={"status": status, "reason": reason},
    )
    alert.refresh_from_db()
    return alert


def alert_confirm(*, alert: Alert, officer: User, reason: str = "") -> Alert:
    """open -> confirmed (a true match), and freeze the subject's account.

    Raises Forbidden (not an officer with compliance.decide_alert, or the alert is about the
    officer) and AlertStateError (already decided); nothing changes then.
    """
    _check_officer(officer=officer, alert=alert)
    with transaction.atomic(durable=True):
        alert = _decide(
            alert=alert, officer=officer, status=AlertStatus.CONFIRMED, reason=reason or "confirmed match"
        )
        if alert.subject is not None:
            account_freeze_for_alert(
                user=alert.subject,
                officer=officer,
                reason=f"confirmed {alert.get_kind_display().lower()} alert #{alert.pk}",
                alert=alert,
            )
    return alert


def alert_dismiss(*, alert: Alert, officer: User, reason: str) -> Alert:
    """open -> dismissed (a false positive), with the officer's reason.

    Raises InvalidRequest (empty reason), Forbidden, AlertStateError; nothing changes then.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("A dismissal needs a reason")
    _check_officer(officer=officer, alert=alert)
    with transaction.atomic(durable=True):
        return _decide(alert=alert, officer=officer, status=AlertStatus.DISMISSED, reason=reason)


def user_is_frozen(user_id: int) -> bool:
    """True while a compliance freeze is in force on the user's account."""
    return ComplianceFlag.objects.filter(user_id=user_id, is_frozen=True).exists()
