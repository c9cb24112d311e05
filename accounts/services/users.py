"""Users: sign-up and staff-created accounts, identified by a case-insensitive email address."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.models import KycLevel, User
from core.errors import InvalidRequest

EMAIL_TAKEN_MESSAGE = "An account with this email already exists"
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length or 254


def user_email_check(*, email: str) -> str:
    """Return the stored form of `email` (trimmed, lower-case) if it is valid and not taken.

    Raises InvalidRequest for a malformed or over-long address, or one that already has an account.
    """
    # Lower-case as UserManager.create_user stores it: one mailbox, one account, whatever the case.
    normalized = email.strip().lower()
    if not normalized or len(normalized) > EMAIL_MAX_LENGTH:
        raise InvalidRequest("Enter a valid email address")
    try:
        validate_email(normalized)
    except ValidationError as exc:
        raise InvalidRequest("Enter a valid email address") from exc
    if User.objects.filter(email__iexact=normalized).exists():
        raise InvalidRequest(EMAIL_TAKEN_MESSAGE)
    return normalized


def user_password_check(*, password: str, email: str) -> None:
    """Run the AUTH_PASSWORD_VALIDATORS for a would-be user with this email.

    Raises InvalidRequest whose message joins every validator message.
    """
    try:
        password_validation.validate_password(password, user=User(email=email.strip().lower()))
    except ValidationError as exc:
        raise InvalidRequest(" ".join(exc.messages)) from exc


def user_create(
    *, email: str, password: str, kyc_level: KycLevel = KycLevel.NONE, is_staff: bool = False
) -> User:
    """Create an active user with a hashed password.

    Raises InvalidRequest "An account with this email already exists" for a taken email (in any
    case), InvalidRequest for a malformed email, and InvalidRequest with the password validators'
    messages joined for a weak password.
    """
    normalized = user_email_check(email=email)
    user_password_check(password=password, email=normalized)
    try:
        # Not durable: the demo seed creates its users inside its own transaction. The savepoint
        # turns the unique-email race (two sign-ups at once) into the same refusal as the check.
        with transaction.atomic():
            return User.objects.create_user(normalized, password, kyc_level=kyc_level, is_staff=is_staff)
    except IntegrityError as exc:
        raise InvalidRequest(EMAIL_TAKEN_MESSAGE) from exc
