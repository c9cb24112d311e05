"""Inputs for KYC tests: a valid declaration and files of each type."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

SAMPLE = Path(__file__).resolve().parents[2] / "compliance" / "fixtures" / "sample_sanctions.ftm.jsonl"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


def personal(**overrides: Any) -> dict[str, Any]:
    """A clean declaration: a Swiss resident (not EU/EEA, not high-risk)."""
    return {
        "legal_name": "Maria Lindford",
        "birth_date": date(1990, 1, 1),
        "nationality": "CH",
        "residence_country": "CH",
        "address_line": "Bahnhofstrasse 1",
        "city": "Zürich",
        "postal_code": "8001",
        "tax_residence_country": "CH",
        "tax_identification_number": "756.1234.5678.97",
        "tax_self_certified": True,
        **overrides,
    }


def upload(content: bytes = PNG, name: str = "scan.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")
