"""FollowTheMoney (OpenSanctions) entities, one JSON object per line, to watchlist entry data.

An entity: `{"id": ..., "schema": "Person", "properties": {"name": [...], "alias": [...],
"birthDate": [...], "country": [...], "topics": [...]}, ...}`; every property is a list of
strings. Schemas kept: Person; Organization, Company, LegalEntity and PublicBody (as
Organization); CryptoWallet (`publicKey`, `currency` or `currencySymbol`). Others (addresses,
sanctions, vessels, relations) are skipped and counted.

Names screened: `name`, `alias`, `previousName`, and, when there is no `name`, the parts
`firstName` `middleName` `fatherName` `lastName` joined. `weakAlias` (nicknames, short aliases
that OpenSanctions itself marks as weak) is kept for display but not screened: it would raise
alerts on common words.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from compliance.rules.addresses import normalise_address
from compliance.rules.dates import parse_partial_date
from compliance.rules.screening import CRYPTO_WALLET, ORGANIZATION, PERSON

SCHEMAS = {
    "Person": PERSON,
    "Organization": ORGANIZATION,
    "Company": ORGANIZATION,
    "LegalEntity": ORGANIZATION,
    "PublicBody": ORGANIZATION,
    "CryptoWallet": CRYPTO_WALLET,
}
MAX_ID_LENGTH = 255
MAX_CAPTION_LENGTH = 512


class EntityFormatError(ValueError):
    """A line that is not a FollowTheMoney entity."""


@dataclass(frozen=True, slots=True)
class ParsedEntity:
    entity_id: str
    schema: str
    caption: str
    names: tuple[str, ...]  # caption first, then aliases; what screening compares
    weak_aliases: tuple[str, ...]
    birth_dates: tuple[str, ...]
    countries: tuple[str, ...]
    topics: tuple[str, ...]
    addresses: tuple[str, ...]  # normalised, CryptoWallet only
    currencies: tuple[str, ...]
    datasets: tuple[str, ...]

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of everything above: equal when nothing changed."""
        payload = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()


def _values(properties: dict[str, Any], name: str) -> list[str]:
    raw = properties.get(name, [])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise EntityFormatError(f"property {name} is not a list")
    return [" ".join(str(v).split()) for v in raw if isinstance(v, str | int) and str(v).strip()]


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def parse_entity(data: Any) -> ParsedEntity | None:
    """The entry data of one entity, or None for a schema that is not screened.

    Raises EntityFormatError for anything that is not an entity with an id, a schema and
    properties.
    """
    if not isinstance(data, dict):
        raise EntityFormatError("not a JSON object")
    entity_id = data.get("id")
    schema = data.get("schema")
    properties = data.get("properties", {})
    if not isinstance(entity_id, str) or not entity_id or len(entity_id) > MAX_ID_LENGTH:
        raise EntityFormatError("missing or invalid id")
    if not isinstance(schema, str) or not schema:
        raise EntityFormatError(f"{entity_id}: missing schema")
    if not isinstance(properties, dict):
        raise EntityFormatError(f"{entity_id}: properties is not an object")
    kind = SCHEMAS.get(schema)
    if kind is None:
        return None
    names = _values(properties, "name")
    if not names and kind == PERSON:
        parts = [
            " ".join(_values(properties, p)) for p in ("firstName", "middleName", "fatherName", "lastName")
        ]
        joined = " ".join(p for p in parts if p)
        names = [joined] if joined else []
    aliases = _values(properties, "alias") + _values(properties, "previousName")
    addresses: list[str] = []
    currencies: list[str] = []
    if kind == CRYPTO_WALLET:
        addresses = [normalise_address(a) for a in _values(properties, "publicKey")]
        currencies = [
            c.upper() for c in _values(properties, "currency") + _values(properties, "currencySymbol")
        ]
        if not addresses:
            raise EntityFormatError(f"{entity_id}: CryptoWallet without publicKey")
    caption = str(data.get("caption") or (names[0] if names else addresses[0] if addresses else entity_id))
    all_names = _unique([*names, *aliases]) if kind != CRYPTO_WALLET else _unique(names)
    birth_dates = [d for d in _values(properties, "birthDate") if parse_partial_date(d) is not None]
    datasets = data.get("datasets", [])
    return ParsedEntity(
        entity_id=entity_id,
        schema=kind,
        caption=caption[:MAX_CAPTION_LENGTH],
        names=all_names,
        weak_aliases=_unique(_values(properties, "weakAlias")),
        birth_dates=_unique([d[:10] for d in birth_dates]),
        countries=_unique(
            [c.lower() for c in _values(properties, "country") + _values(properties, "nationality")]
        ),
        topics=_unique(_values(properties, "topics")),
        addresses=_unique(addresses),
        currencies=_unique(currencies),
        datasets=_unique([str(d) for d in datasets if isinstance(d, str)])
        if isinstance(datasets, list)
        else (),
    )


def parse_line(line: str) -> ParsedEntity | None:
    """One line of a JSON-lines file; None for a blank line or a skipped schema.

    Raises EntityFormatError for invalid JSON or a malformed entity.
    """
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EntityFormatError(f"invalid JSON: {exc.msg}") from exc
    return parse_entity(data)
