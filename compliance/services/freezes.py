"""Account freezes: a confirmed sanctions match freezes the customer's assets (Regulation (EU)
269/2014 Art. 2); officers may also freeze on other grounds (a court order) and lift a freeze,
always with a reason and an audit entry. `user_is_frozen` (screening.py) is what gates read.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from compliance.locks import compliance_flag_lock
from compliance.models import Alert, ComplianceFlag
from compliance.services.audit import audit_record
from core.errors import Forbidden, InvalidRequest

DECIDE_PERMISSION = "compliance.decide_alert"


def account_freeze_for_alert(
    *, user: User, officer: User | None, reason: str, alert: Alert | None = None
) -> ComplianceFlag:
    """Freeze `user` inside the caller's transaction (alert_confirm's); no permission check."""
    flag = compliance_flag_lock(ComplianceFlag.objects.get_or_create(user=user)[0].pk)
    before = {"is_frozen": flag.is_frozen, "reason": flag.reason}
    flag.is_frozen = True
    flag.reason = reason
    flag.frozen_at = timezone.now()
    flag.frozen_by = officer
    flag.alert = alert
    flag.updated_at = flag.frozen_at
    flag.save()
    audit_record(
        actor=officer,
        action="account.freeze",
        target=flag,
        before=before,
        after={"is_frozen": True, "reason": reason, "user_id": user.pk},
    )
    from exchange.streams import account_frozen_on_commit  # exchange imports compliance's gates

    # A frozen account's open sockets stop receiving its private events once the freeze commits.
    account_frozen_on_commit(user_id=user.pk)
    return flag


def _check_staff(officer: User) -> None:
    if not officer.is_active or not officer.has_perm(DECIDE_PERMISSION):
        raise Forbidden("Only compliance officers may freeze or unfreeze accounts")


def account_freeze(*, user: User, officer: User, reason: str) -> ComplianceFlag:
    """Freeze `user` (withdrawals refused by the gate; trading once wired). Raises InvalidRequest
    (empty reason), Forbidden (not an officer, or the officer's own account)."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("A freeze needs a reason")
    _check_staff(officer)
    if officer.pk == user.pk:
        raise Forbidden("An officer may not freeze or unfreeze their own account")
    with transaction.atomic(durable=True):
        return account_freeze_for_alert(user=user, officer=officer, reason=reason)


def account_unfreeze(*, user: User, officer: User, reason: str) -> ComplianceFlag:
    """Lift a freeze, with the officer's reason. Raises InvalidRequest (empty reason, or the
    account is not frozen), Forbidden (not an officer, or the officer's own account)."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("An unfreeze needs a reason")
    _check_staff(officer)
    if officer.pk == user.pk:
        raise Forbidden("An officer may not freeze or unfreeze their own account")
    with transaction.atomic(durable=True):
        flag_id = ComplianceFlag.objects.filter(user=user).values_list("id", flat=True).first()
        flag = compliance_flag_lock(flag_id) if flag_id is not None else None
        if flag is None or not flag.is_frozen:
            raise InvalidRequest(f"{user} is not frozen")
        before = {"is_frozen": True, "reason": flag.reason}
        flag.is_frozen = False
        flag.reason = reason
        flag.updated_at = timezone.now()
        flag.save(update_fields=["is_frozen", "reason", "updated_at"])
        audit_record(
            actor=officer,
            action="account.unfreeze",
            target=flag,
            before=before,
            after={"is_frozen": False, "reason": reason, "user_id": user.pk},
        )
        return flag
