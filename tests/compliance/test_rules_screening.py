"""The pure screening core: birth dates, addresses, FollowTheMoney parsing, `screen` and the index."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.fixtures import generate_sample as sample
from compliance.rules.addresses import AddressBlocklist, address_format, normalise_address
from compliance.rules.dates import (
    DAY_MATCH_BONUS,
    DAY_MISMATCH_PENALTY,
    SWAPPED_PENALTY,
    YEAR_MATCH_BONUS,
    YEAR_MISMATCH_PENALTY,
    birth_date_adjustment,
    parse_partial_date,
)
from compliance.rules.ftm import EntityFormatError, parse_entity, parse_line
from compliance.rules.screening import (
    ALERT_THRESHOLD,
    KIND_PEP,
    KIND_SANCTIONS,
    KIND_WATCHLIST,
    ScreeningIndex,
    WatchEntry,
    hit_kind,
    screen,
)

ZVIAGORSKII = WatchEntry.build(
    key="1",
    schema="Person",
    names=["Igor Valentinovich Zviagorskii", "Игорь Валентинович Звягорский"],
    birth_dates=["1968-03-14"],
    topics=["sanction"],
)


def sample_entries() -> list[WatchEntry]:
    entries = []
    for number, entity in enumerate(sample.generate()):
        parsed = parse_entity(entity)
        if parsed is not None:
            entries.append(
                WatchEntry.build(
                    key=str(number),
                    schema=parsed.schema,
                    names=parsed.names,
                    birth_dates=parsed.birth_dates,
                    topics=parsed.topics,
                )
            )
    return entries


# --- birth dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry_dates", "points"),
    [
        (["1968-03-14"], DAY_MATCH_BONUS),
        (["1968"], YEAR_MATCH_BONUS),
        (["1968-03"], 3),
        (["1968-14-03"], 0),  # not a date: ignored
        (["1968-03-15"], DAY_MISMATCH_PENALTY),
        (["1969-03-14"], YEAR_MISMATCH_PENALTY),
        (["1969-03-14", "1968-03-14"], DAY_MATCH_BONUS),  # the best of several dates
        ([], 0),
    ],
)
def test_birth_date_adjustment(entry_dates, points):
    assert birth_date_adjustment(date(1968, 3, 14), entry_dates).points == points


def test_swapped_day_and_month_count_half_a_mismatch():
    assert birth_date_adjustment(date(1968, 3, 4), ["1968-04-03"]).points == SWAPPED_PENALTY


def test_no_query_date_no_adjustment():
    assert birth_date_adjustment(None, ["1968-03-14"]).points == 0


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("1970", "1970"),
        ("1970-05", "1970-05"),
        ("1970-05-21T00:00:00", "1970-05-21"),
        ("1970-02-30", None),
        ("x", None),
    ],
)
def test_partial_dates(text, parsed):
    result = parse_partial_date(text)
    assert (str(result) if result else None) == parsed


# --- addresses ----------------------------------------------------------------------------------


def test_evm_addresses_compare_case_insensitively():
    checksummed = "0x7F2c9a3B6e1D4c58A0b9E3f1c2D4a6B8e0F1a2B3"

    assert normalise_address(f" {checksummed} ", "Ethereum") == checksummed.lower()
    assert normalise_address(checksummed.upper().replace("0X", "0x"), "Polygon") == checksummed.lower()
    assert address_format(checksummed) == "evm"


def test_bech32_is_case_insensitive_but_base58_is_not():
    segwit = sample.ANCHOR_BTC

    assert normalise_address(segwit.upper(), "Bitcoin") == segwit
    assert normalise_address(sample.ANCHOR_SOL, "Solana") == sample.ANCHOR_SOL
    assert normalise_address(sample.ANCHOR_SOL.lower(), "Solana") != sample.ANCHOR_SOL
    assert (
        normalise_address("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "Bitcoin")
        == "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
    )


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.lists(st.booleans(), min_size=40, max_size=40))
def test_any_casing_of_an_evm_address_normalises_to_one_form(raw, upper):
    lower = raw.hex()
    mixed = "".join(c.upper() if u else c for c, u in zip(lower, upper, strict=True))

    assert normalise_address("0x" + mixed) == "0x" + lower
    assert normalise_address(normalise_address("0x" + mixed)) == "0x" + lower


# --- FollowTheMoney -----------------------------------------------------------------------------


def test_a_person_entity_becomes_entry_data():
    parsed = parse_line(
        json.dumps(
            {
                "id": "p1",
                "schema": "Person",
                "properties": {
                    "name": ["Ivan Petrov"],
                    "alias": ["Иван Петров", "Ivan Petrov"],
                    "weakAlias": ["Vanya"],
                    "birthDate": ["1970-05-21", "not a date"],
                    "nationality": ["RU"],
                    "topics": ["sanction"],
                },
            }
        )
    )

    assert parsed is not None
    assert parsed.schema == "Person"
    assert parsed.caption == "Ivan Petrov"
    assert parsed.names == ("Ivan Petrov", "Иван Петров")
    assert parsed.weak_aliases == ("Vanya",)
    assert parsed.birth_dates == ("1970-05-21",)
    assert parsed.countries == ("ru",)
    assert len(parsed.fingerprint()) == 64


def test_a_wallet_entity_keeps_its_normalised_address():
    parsed = parse_entity(
        {
            "id": "w1",
            "schema": "CryptoWallet",
            "properties": {"publicKey": ["0xABCDEF0123456789ABCDEF0123456789ABCDEF01"], "currency": ["eth"]},
        }
    )

    assert parsed is not None
    assert parsed.addresses == ("0xabcdef0123456789abcdef0123456789abcdef01",)
    assert parsed.currencies == ("ETH",)


def test_person_name_parts_make_a_name_when_there_is_none():
    parsed = parse_entity(
        {"id": "p2", "schema": "Person", "properties": {"firstName": ["Anna"], "lastName": ["Marlier"]}}
    )

    assert parsed is not None
    assert parsed.names == ("Anna Marlier",)


def test_other_schemas_are_skipped_and_bad_lines_refused():
    assert parse_line('{"id": "s1", "schema": "Sanction", "properties": {}}') is None
    assert parse_line("   ") is None
    for bad in [
        "{not json",
        "[]",
        '{"schema": "Person"}',
        '{"id": "x", "schema": "CryptoWallet", "properties": {}}',
    ]:
        with pytest.raises(EntityFormatError):
            parse_line(bad)


# --- screen and the index -----------------------------------------------------------------------


def test_topics_decide_the_kind_of_hit():
    assert hit_kind(["sanction", "role.pep"]) == KIND_SANCTIONS
    assert hit_kind(["role.rca"]) == KIND_PEP
    assert hit_kind(["crime"]) == KIND_WATCHLIST


def test_screen_finds_a_transliterated_name_with_reasons():
    hits = screen("Igor Zvyagorskiy", date(1968, 3, 14), [ZVIAGORSKII])

    assert len(hits) == 1
    hit = hits[0]
    assert hit.kind == KIND_SANCTIONS
    assert hit.score >= ALERT_THRESHOLD
    assert hit.score > hit.name_score  # the birth date agrees
    assert any("birth date 1968-03-14 agrees" in r for r in hit.reasons)
    assert any(r.startswith("unmatched name parts: valentinovich") for r in hit.reasons)


def test_a_different_birth_year_takes_an_exact_name_below_the_threshold():
    hits = screen("Igor Valentinovich Zviagorskii", date(1980, 1, 1), [ZVIAGORSKII], threshold=0)

    assert hits[0].name_score == 100
    assert hits[0].score == 100 + YEAR_MISMATCH_PENALTY < ALERT_THRESHOLD


def test_screen_skips_other_schemas_and_unrelated_names():
    wallet = WatchEntry.build(key="2", schema="CryptoWallet", names=[], topics=["sanction"])
    company = WatchEntry.build(key="3", schema="Organization", names=["Igor Zviagorskii"])

    assert screen("Igor Zviagorskii", None, [wallet, company]) == []
    assert screen("Maria Lindford", None, [ZVIAGORSKII]) == []


def test_the_index_finds_what_an_exhaustive_screen_finds():
    entries = sample_entries()
    index = ScreeningIndex(entries)
    queries = [
        name
        for entity in sample.generate()[::12]
        for name in entity["properties"].get("name", [])[:1] + entity["properties"].get("alias", [])[:1]
    ] + ["Jon Smith", "Igor Zvyagorsky", "Mohamed Salman", "Kozheyev Fyodor", "Eleni Vlachaki"]

    for query in queries:
        expected = [(h.entry.key, h.score) for h in screen(query, None, entries)]
        assert [(h.entry.key, h.score) for h in index.screen(query, None)] == expected, query
    assert len(index) < len(entries)  # wallets and companies are not in a person index


def test_the_blocklist_matches_in_normalised_form():
    blocklist = AddressBlocklist([(sample.ANCHOR_ETH, "eth entry"), (sample.ANCHOR_SOL, "sol entry")])

    assert blocklist.match(sample.ANCHOR_ETH.lower(), "Ethereum") == "eth entry"
    assert blocklist.match(" " + sample.ANCHOR_ETH.upper().replace("0X", "0x"), "Base") == "eth entry"
    assert blocklist.match(sample.ANCHOR_SOL, "Solana") == "sol entry"
    assert blocklist.match(sample.ANCHOR_SOL.upper(), "Solana") is None
    assert len(blocklist) == 2
