"""Onboarding forms. Field checks live in accounts.services.kyc_checks; the forms only parse and
show the services' refusals next to the field they name."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.countries import COUNTRY_CHOICES
from accounts.models import DocumentType
from accounts.services.kyc_checks import document_max_bytes

COUNTRY_FIELD_CHOICES = [("", "Choose a country"), *COUNTRY_CHOICES]
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PersonalForm(forms.Form):
    legal_name = forms.CharField(
        label="Full legal name", max_length=200, help_text="As on your identity document."
    )
    birth_date = forms.DateField(label="Date of birth", widget=DATE_WIDGET)
    nationality = forms.ChoiceField(label="Nationality", choices=COUNTRY_FIELD_CHOICES)
    residence_country = forms.ChoiceField(label="Country of residence", choices=COUNTRY_FIELD_CHOICES)
    address_line = forms.CharField(label="Street address", max_length=200)
    city = forms.CharField(label="City", max_length=100)
    postal_code = forms.CharField(label="Postal code", max_length=20)
    tax_residence_country = forms.ChoiceField(label="Country of tax residence", choices=COUNTRY_FIELD_CHOICES)
    tax_identification_number = forms.CharField(label="Tax identification number (TIN)", max_length=40)
    tax_self_certified = forms.BooleanField(
        label="I certify that the tax residence above is correct and I will report any change",
        help_text="Required by EU tax rules (DAC8) for crypto-asset service providers.",
    )


IDENTITY_CHOICES = [
    (value, label)
    for value, label in DocumentType.choices
    if value in (DocumentType.PASSPORT, DocumentType.ID_CARD, DocumentType.DRIVING_LICENCE)
]
ADDRESS_CHOICES = [
    (value, label)
    for value, label in DocumentType.choices
    if value in (DocumentType.UTILITY_BILL, DocumentType.BANK_STATEMENT, DocumentType.TAX_NOTICE)
]


def _file_help() -> str:
    return f"PDF, PNG or JPEG, at most {document_max_bytes() // (1024 * 1024)} MB."


class IdentityDocumentForm(forms.Form):
    document_type = forms.ChoiceField(label="Document type", choices=IDENTITY_CHOICES)
    number = forms.CharField(label="Document number", max_length=40)
    issuing_country = forms.ChoiceField(label="Issuing country", choices=COUNTRY_FIELD_CHOICES)
    expiry_date = forms.DateField(label="Expiry date", widget=DATE_WIDGET)
    file = forms.FileField(label="Document file")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _file_help()


class AddressDocumentForm(forms.Form):
    document_type = forms.ChoiceField(label="Document type", choices=ADDRESS_CHOICES)
    file = forms.FileField(label="Document file", help_text="Dated within the last three months.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = f"Dated within the last three months. {_file_help()}"
