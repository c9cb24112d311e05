"""IVMS101 (interVASP Messaging Standard) identity payloads for the travel rule: build and validate.

Pure: plain dicts in IVMS101's JSON layout, no Django. What Regulation (EU) 2023/1113 needs:

* Art. 14(1): the originator's name, DLT address (`accountNumber`), and at least one of: address
  with country, official document number (`nationalIdentification`), customer identification
  number, or date and place of birth.
* Art. 14(2): the beneficiary's name and DLT address.
* Between providers the originating and beneficiary VASP are named (legal persons).

`ivms101_problems` lists what is missing or malformed; an empty list means the payload may go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

NAME_TYPES = frozenset({"LEGL", "ALIA", "BIRT", "MAID"})
LEGAL_NAME_TYPES = frozenset({"LEGL", "SHRT", "TRAD"})
ADDRESS_TYPES = frozenset({"HOME", "BIZZ", "GEOG"})
NATIONAL_ID_TYPES = frozenset(
    {"ARNU", "CCPT", "RAID", "DRLC", "FIIN", "TXID", "SOCS", "IDCD", "LEIX", "MISC"}
)
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_LEI_RE = re.compile(r"[0-9A-Z]{18}[0-9]{2}")


@dataclass(frozen=True)
class PersonData:
    """What is known about a natural person; empty strings and None for what is not."""

    primary_name: str
    secondary_name: str = ""
    street: str = ""
    building_number: str = ""
    post_code: str = ""
    town: str = ""
    country: str = ""
    country_of_residence: str = ""
    date_of_birth: date | None = None
    place_of_birth: str = ""
    national_identifier: str = ""
    national_identifier_type: str = ""
    national_identifier_country: str = ""
    customer_identification: str = ""


def natural_person(person: PersonData) -> dict[str, Any]:
    """`{"naturalPerson": ...}` with the fields that have a value."""
    name: dict[str, str] = {"primaryIdentifier": person.primary_name, "nameIdentifierType": "LEGL"}
    if person.secondary_name:
        name["secondaryIdentifier"] = person.secondary_name
    body: dict[str, Any] = {"name": {"nameIdentifier": [name]}}
    if person.country:
        address = {
            "addressType": "HOME",
            "streetName": person.street,
            "buildingNumber": person.building_number,
            "postCode": person.post_code,
            "townName": person.town,
            "country": person.country,
        }
        body["geographicAddress"] = [{key: value for key, value in address.items() if value}]
    if person.national_identifier:
        national = {
            "nationalIdentifier": person.national_identifier,
            "nationalIdentifierType": person.national_identifier_type or "MISC",
        }
        if person.national_identifier_country:
            national["countryOfIssue"] = person.national_identifier_country
        body["nationalIdentification"] = national
    if person.customer_identification:
        body["customerIdentification"] = person.customer_identification
    if person.date_of_birth is not None and person.place_of_birth:
        body["dateAndPlaceOfBirth"] = {
            "dateOfBirth": person.date_of_birth.isoformat(),
            "placeOfBirth": person.place_of_birth,
        }
    if person.country_of_residence:
        body["countryOfResidence"] = person.country_of_residence
    return {"naturalPerson": body}


def legal_person(*, name: str, lei: str = "", country: str = "") -> dict[str, Any]:
    """`{"legalPerson": ...}`: a provider, named by its legal name and, if known, its LEI."""
    body: dict[str, Any] = {
        "name": {"nameIdentifier": [{"legalPersonName": name, "legalPersonNameIdentifierType": "LEGL"}]}
    }
    if lei:
        body["nationalIdentification"] = {"nationalIdentifier": lei, "nationalIdentifierType": "LEIX"}
    if country:
        body["countryOfRegistration"] = country
    return {"legalPerson": body}


def identity_payload(
    *,
    originator: dict[str, Any],
    originator_account: str,
    beneficiary: dict[str, Any],
    beneficiary_account: str,
    originating_vasp: dict[str, Any],
    beneficiary_vasp: dict[str, Any] | None,
) -> dict[str, Any]:
    """IVMS101's IdentityPayload for one transfer (no beneficiary VASP for a self-hosted wallet)."""
    payload: dict[str, Any] = {
        "originator": {"originatorPersons": [originator], "accountNumber": [originator_account]},
        "beneficiary": {"beneficiaryPersons": [beneficiary], "accountNumber": [beneficiary_account]},
        "originatingVASP": {"originatingVASP": originating_vasp},
    }
    if beneficiary_vasp is not None:
        payload["beneficiaryVASP"] = {"beneficiaryVASP": beneficiary_vasp}
    return payload


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _country_problems(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    return (
        [] if isinstance(value, str) and _COUNTRY_RE.fullmatch(value) else [f"{where}: not an ISO 3166 code"]
    )


def _natural_person_problems(body: Any, where: str, *, originator: bool, today: date) -> list[str]:
    if not isinstance(body, dict):
        return [f"{where}: not an object"]
    problems = []
    names = (body.get("name") or {}).get("nameIdentifier") if isinstance(body.get("name"), dict) else None
    if not isinstance(names, list) or not names:
        problems.append(f"{where}.name: missing")
    else:
        for index, name in enumerate(names):
            if not isinstance(name, dict) or not _text(name.get("primaryIdentifier")):
                problems.append(f"{where}.name[{index}]: primaryIdentifier missing")
            elif name.get("nameIdentifierType") not in NAME_TYPES:
                problems.append(f"{where}.name[{index}]: nameIdentifierType not one of {sorted(NAME_TYPES)}")
        if not any(isinstance(n, dict) and n.get("nameIdentifierType") == "LEGL" for n in names):
            problems.append(f"{where}.name: no legal name (LEGL)")
    addresses = body.get("geographicAddress", [])
    if not isinstance(addresses, list):
        problems.append(f"{where}.geographicAddress: not a list")
        addresses = []
    for index, address in enumerate(addresses):
        if not isinstance(address, dict) or address.get("addressType") not in ADDRESS_TYPES:
            problems.append(
                f"{where}.geographicAddress[{index}]: addressType not one of {sorted(ADDRESS_TYPES)}"
            )
        elif not _text(address.get("country")):
            problems.append(f"{where}.geographicAddress[{index}]: country missing")
        else:
            problems += _country_problems(address.get("country"), f"{where}.geographicAddress[{index}]")
    national = body.get("nationalIdentification")
    if national is not None and (
        not isinstance(national, dict)
        or not _text(national.get("nationalIdentifier"))
        or national.get("nationalIdentifierType") not in NATIONAL_ID_TYPES
    ):
        problems.append(f"{where}.nationalIdentification: identifier or type missing or unknown")
    birth = body.get("dateAndPlaceOfBirth")
    if birth is not None:
        try:
            born = date.fromisoformat(birth["dateOfBirth"])
        except (TypeError, KeyError, ValueError):
            problems.append(f"{where}.dateAndPlaceOfBirth: dateOfBirth is not a date")
        else:
            if born >= today:
                problems.append(f"{where}.dateAndPlaceOfBirth: dateOfBirth is not in the past")
        if not isinstance(birth, dict) or not _text(birth.get("placeOfBirth")):
            problems.append(f"{where}.dateAndPlaceOfBirth: placeOfBirth missing")
    problems += _country_problems(body.get("countryOfResidence"), f"{where}.countryOfResidence")
    if originator and not (addresses or national or _text(body.get("customerIdentification")) or birth):
        # Art. 14(1)(d): one of address, document number, customer number, date and place of birth.
        problems.append(
            f"{where}: needs an address, an official document number, a customer identification "
            "number, or a date and place of birth"
        )
    return problems


def _legal_person_problems(body: Any, where: str) -> list[str]:
    if not isinstance(body, dict):
        return [f"{where}: not an object"]
    names = (body.get("name") or {}).get("nameIdentifier") if isinstance(body.get("name"), dict) else None
    problems = []
    if not isinstance(names, list) or not names:
        problems.append(f"{where}.name: missing")
    else:
        for index, name in enumerate(names):
            if not isinstance(name, dict) or not _text(name.get("legalPersonName")):
                problems.append(f"{where}.name[{index}]: legalPersonName missing")
            elif name.get("legalPersonNameIdentifierType") not in LEGAL_NAME_TYPES:
                problems.append(f"{where}.name[{index}]: legalPersonNameIdentifierType unknown")
    national = body.get("nationalIdentification")
    if (
        isinstance(national, dict)
        and national.get("nationalIdentifierType") == "LEIX"
        and not _LEI_RE.fullmatch(str(national.get("nationalIdentifier", "")))
    ):
        problems.append(f"{where}.nationalIdentification: not a 20-character LEI")
    problems += _country_problems(body.get("countryOfRegistration"), f"{where}.countryOfRegistration")
    return problems


def _person_problems(person: Any, where: str, *, originator: bool, today: date) -> list[str]:
    if isinstance(person, dict) and "naturalPerson" in person:
        return _natural_person_problems(
            person["naturalPerson"], f"{where}.naturalPerson", originator=originator, today=today
        )
    if isinstance(person, dict) and "legalPerson" in person:
        return _legal_person_problems(person["legalPerson"], f"{where}.legalPerson")
    return [f"{where}: neither naturalPerson nor legalPerson"]


def _party_problems(party: Any, role: str, *, originator: bool, today: date) -> list[str]:
    if not isinstance(party, dict):
        return [f"{role}: missing"]
    persons = party.get(f"{role}Persons")
    problems = []
    if not isinstance(persons, list) or not persons:
        problems.append(f"{role}.{role}Persons: at least one person is required")
    else:
        for index, person in enumerate(persons):
            problems += _person_problems(
                person, f"{role}.{role}Persons[{index}]", originator=originator, today=today
            )
    accounts = party.get("accountNumber")
    if not isinstance(accounts, list) or not accounts or not all(_text(a) for a in accounts):
        problems.append(f"{role}.accountNumber: the DLT address is required")
    return problems


def ivms101_problems(payload: Any, *, to_vasp: bool, today: date) -> list[str]:
    """What makes `payload` unfit to accompany a transfer; empty when it is complete.

    `to_vasp`: the beneficiary is another provider, which must then be named.
    """
    if not isinstance(payload, dict):
        return ["payload: not an object"]
    problems = _party_problems(payload.get("originator"), "originator", originator=True, today=today)
    problems += _party_problems(payload.get("beneficiary"), "beneficiary", originator=False, today=today)
    originating = (payload.get("originatingVASP") or {}).get("originatingVASP")
    if originating is None:
        problems.append("originatingVASP: missing")
    else:
        problems += _person_problems(originating, "originatingVASP", originator=False, today=today)
    beneficiary_vasp = (payload.get("beneficiaryVASP") or {}).get("beneficiaryVASP")
    if to_vasp and beneficiary_vasp is None:
        problems.append("beneficiaryVASP: a transfer to another provider names it")
    elif beneficiary_vasp is not None:
        problems += _person_problems(beneficiary_vasp, "beneficiaryVASP", originator=False, today=today)
    return problems
