"""Checks on what a customer declares for KYC. Each raises `KycFieldError` naming the field, so
the onboarding forms show the message next to it and the services refuse the same input."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import IO

from django.conf import settings

from accounts.countries import country_is_valid
from core.errors import InvalidRequest

ADULT_AGE = 18
OLDEST_BIRTH_YEAR = 1900
DEFAULT_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
# File types by their first bytes, never by the name or the browser's Content-Type (both are the
# uploader's to choose).
MAGIC_TYPES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"%PDF-", "application/pdf", ".pdf"),
)


class KycFieldError(InvalidRequest):
    """Bad input for one field: `field` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_country(field: str, code: str) -> str:
    code = code.strip().upper()
    if not country_is_valid(code):
        raise KycFieldError(field, "Choose a country from the list")
    return code


def _age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def check_birth_date(birth_date: date, *, today: date) -> date:
    if birth_date > today:
        raise KycFieldError("birth_date", "The date of birth cannot be in the future")
    if birth_date.year < OLDEST_BIRTH_YEAR:
        raise KycFieldError("birth_date", "Enter your real date of birth")
    if _age_on(birth_date, today) < ADULT_AGE:
        raise KycFieldError("birth_date", f"You must be at least {ADULT_AGE} years old")
    return birth_date


def check_expiry(expiry: date | None, *, today: date) -> date | None:
    if expiry is not None and expiry <= today:
        raise KycFieldError("expiry_date", "This document has expired; upload a valid one")
    return expiry


def check_text(field: str, value: str, *, max_length: int, label: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise KycFieldError(field, f"Enter your {label}")
    if len(value) > max_length:
        raise KycFieldError(field, f"At most {max_length} characters")
    return value


@dataclass(frozen=True)
class CheckedFile:
    content_type: str
    extension: str
    size: int
    sha256: str


def document_max_bytes() -> int:
    return int(getattr(settings, "KYC_DOCUMENT_MAX_BYTES", DEFAULT_DOCUMENT_MAX_BYTES))


def check_document_file(field: str, file: IO[bytes], *, size: int) -> CheckedFile:
    """The file's real type (PNG, JPEG or PDF by its magic bytes), size and digest."""
    limit = document_max_bytes()
    if size <= 0:
        raise KycFieldError(field, "The file is empty")
    if size > limit:
        raise KycFieldError(field, f"The file is larger than {limit // (1024 * 1024)} MB")
    file.seek(0)
    head = file.read(16)
    match = next((m for m in MAGIC_TYPES if head.startswith(m[0])), None)
    if match is None:
        raise KycFieldError(field, "Upload a PDF, PNG or JPEG file")
    file.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: file.read(64 * 1024), b""):
        digest.update(chunk)
    file.seek(0)
    return CheckedFile(content_type=match[1], extension=match[2], size=size, sha256=digest.hexdigest())
