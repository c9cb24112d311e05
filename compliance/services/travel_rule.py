"""Travel rule records (Regulation (EU) 2023/1113): the IVMS101 originator and beneficiary data of
every outgoing transfer, built from the customer's identity data and the address-book entry,
validated (`compliance.rules.ivms101`) and stored with the withdrawal.

The originator is the customer: the legal name and address of the KYC profile, the identity
document's number, and always the customer number, which on its own meets Art. 14(1)'s "one of".
Without a KYC profile the screening profile's name is used, then the email address. (The date of
birth goes only with a place of birth, which onboarding does not collect.) The beneficiary of a self-hosted wallet is the customer themself (the address
book records wallets the customer holds); at another provider it is the named beneficiary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from compliance.models import ScreeningProfile, TravelRuleRecord
from compliance.rules.ivms101 import (
    PersonData,
    identity_payload,
    ivms101_problems,
    legal_person,
    natural_person,
)
from core.errors import InvalidRequest

if TYPE_CHECKING:
    from exchange.models import Withdrawal, WithdrawalAddress

DEFAULT_LEGAL_NAME = "Satchel"


def _split_name(full_name: str) -> tuple[str, str]:
    """(surname, given names) from a full name written given names first."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name.strip(), ""
    return parts[-1], " ".join(parts[:-1])


# IVMS101 national identifier types for the KYC document types (accounts.models.DocumentType).
DOCUMENT_ID_TYPES = {"passport": "CCPT", "id_card": "IDCD", "driving_licence": "DRLC"}


def originator_person(user: User) -> PersonData:
    """The customer as IVMS101 knows them, from the KYC profile and identity document if any."""
    profile = getattr(user, "kyc_profile", None)  # None when the customer has not onboarded
    document = None
    documents = getattr(user, "kyc_documents", None)
    if documents is not None:
        document = documents.filter(kind="identity").exclude(number="").order_by("-id").first()
    national = {}
    if document is not None:
        national = {
            "national_identifier": document.number,
            "national_identifier_type": DOCUMENT_ID_TYPES.get(document.document_type, "MISC"),
            "national_identifier_country": document.issuing_country,
        }
    if profile is not None:
        surname, given = _split_name(profile.legal_name)
        return PersonData(
            primary_name=surname,
            secondary_name=given,
            street=profile.address_line,
            post_code=profile.postal_code,
            town=profile.city,
            country=profile.residence_country.upper(),
            country_of_residence=profile.residence_country.upper(),
            customer_identification=f"satchel-{user.pk}",
            **national,
        )
    screening = ScreeningProfile.objects.filter(user=user).first()
    surname, given = _split_name(screening.full_name) if screening else (user.email, "")
    return PersonData(
        primary_name=surname, secondary_name=given, customer_identification=f"satchel-{user.pk}", **national
    )


def travel_rule_payload(*, user: User, entry: WithdrawalAddress, from_account: str) -> dict[str, Any]:
    """The IVMS101 IdentityPayload for a withdrawal of `user` to `entry`."""
    originator = originator_person(user)
    to_vasp = entry.ownership == "vasp"
    if to_vasp:
        surname, given = _split_name(entry.beneficiary_name)
        beneficiary = PersonData(primary_name=surname, secondary_name=given)
    else:
        beneficiary = PersonData(
            primary_name=originator.primary_name, secondary_name=originator.secondary_name
        )
    return identity_payload(
        originator=natural_person(originator),
        originator_account=from_account,
        beneficiary=natural_person(beneficiary),
        beneficiary_account=entry.address,
        originating_vasp=legal_person(
            name=getattr(settings, "SATCHEL_LEGAL_NAME", DEFAULT_LEGAL_NAME),
            lei=getattr(settings, "SATCHEL_LEI", ""),
        ),
        beneficiary_vasp=legal_person(name=entry.vasp_name, lei=entry.vasp_lei) if to_vasp else None,
    )


def travel_rule_record_create(*, withdrawal: Withdrawal, entry: WithdrawalAddress) -> TravelRuleRecord:
    """Build, validate and store the withdrawal's record, inside the caller's transaction.

    Raises InvalidRequest naming what is missing when the payload is incomplete (the caller's
    transaction then rolls back: no transfer leaves without its data, Art. 14(8)).
    """
    payload = travel_rule_payload(
        user=withdrawal.user, entry=entry, from_account=f"satchel-{withdrawal.user_id}"
    )
    to_vasp = entry.ownership == "vasp"
    problems = ivms101_problems(payload, to_vasp=to_vasp, today=timezone.now().date())
    if problems:
        raise InvalidRequest("Travel rule data incomplete: " + "; ".join(problems))
    with transaction.atomic(savepoint=False):
        return TravelRuleRecord.objects.create(
            withdrawal=withdrawal,
            beneficiary_ownership=entry.ownership,
            beneficiary_vasp=entry.vasp_name,
            payload=payload,
        )
