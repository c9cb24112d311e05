"""The writer of a user's trading settings (Backpack's PATCH /api/v1/account)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.models import User


@transaction.atomic
def account_settings_update(
    *,
    user: User,
    auto_borrow_settlements: bool | None = None,
    auto_lend: bool | None = None,
    auto_repay_borrows: bool | None = None,
    leverage_limit: Decimal | None = None,
) -> User:
    """Change the given settings (None leaves one as it is)."""
    changes: dict[str, object] = {
        field: value
        for field, value in {
            "auto_borrow_settlements": auto_borrow_settlements,
            "auto_lend": auto_lend,
            "auto_repay_borrows": auto_repay_borrows,
            "leverage_limit": leverage_limit,
        }.items()
        if value is not None
    }
    if changes:
        User.objects.filter(pk=user.pk).update(**changes)
        for field, value in changes.items():
            setattr(user, field, value)
    return user
