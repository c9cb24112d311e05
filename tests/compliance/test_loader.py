"""Loading FollowTheMoney lists: counts, idempotent reloads, delisting, refusals, re-screening."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from compliance.fixtures import generate_sample as sample
from compliance.models import Alert, AuditEntry, WatchlistEntry
from compliance.services.screening import user_screen
from compliance.services.watchlist import WatchlistFormatError, watchlist_load
from core.errors import InvalidRequest
from tests.compliance.conftest import SAMPLE

PERSONS, ORGANIZATIONS, WALLETS, SKIPPED = 159, 21, 15, 10


def lines(entities: list[dict]) -> list[str]:
    return [json.dumps(e, ensure_ascii=False) + "\n" for e in entities]


def table() -> list[tuple]:
    return list(
        WatchlistEntry.objects.order_by("id").values_list(
            "id", "entity_id", "fingerprint", "updated_at", "delisted_at"
        )
    )


def test_the_sample_file_is_what_the_generator_writes(tmp_path):
    """The committed sample is generated, never edited by hand: regenerating gives the same bytes."""
    regenerated = tmp_path / "sample.jsonl"
    sample.write(regenerated)

    assert regenerated.read_bytes() == SAMPLE.read_bytes()


def test_the_sample_loads_with_its_counts(sample_list):
    assert sample_list.added == PERSONS + ORGANIZATIONS + WALLETS
    assert sample_list.skipped == SKIPPED
    assert sample_list.lines == PERSONS + ORGANIZATIONS + WALLETS + SKIPPED
    assert (sample_list.updated, sample_list.unchanged, sample_list.delisted) == (0, 0, 0)
    assert WatchlistEntry.objects.filter(schema="Person").count() == PERSONS
    assert WatchlistEntry.objects.filter(schema="Organization").count() == ORGANIZATIONS
    assert WatchlistEntry.objects.filter(schema="CryptoWallet").count() == WALLETS
    anchor = WatchlistEntry.objects.get(entity_id="satchel-sample-anchor-ru")
    assert anchor.names[:2] == ["Igor Valentinovich Zviagorskii", "Игорь Валентинович Звягорский"]
    assert anchor.birth_dates == ["1968-03-14"]
    assert anchor.countries == ["ru"]
    eth = WatchlistEntry.objects.get(entity_id="satchel-sample-anchor-eth")
    assert eth.addresses == [sample.ANCHOR_ETH.lower()]
    assert AuditEntry.objects.filter(action="watchlist.load", object_id="sample").count() == 1


def test_reloading_the_same_file_changes_nothing(sample_list):
    before = table()

    report = watchlist_load(source="sample", lines=SAMPLE.read_text(encoding="utf-8").splitlines())

    assert (report.added, report.updated, report.delisted, report.relisted) == (0, 0, 0, 0)
    assert report.unchanged == PERSONS + ORGANIZATIONS + WALLETS
    assert report.changed_ids == []
    assert table() == before


def test_entries_missing_from_a_new_file_are_delisted_and_come_back(sample_list):
    entities = sample.generate()
    kept = [e for e in entities if not e["id"].startswith("satchel-sample-lat-")]

    report = watchlist_load(source="sample", lines=lines(kept))

    assert report.delisted == 40
    assert (
        WatchlistEntry.objects.filter(
            entity_id__startswith="satchel-sample-lat-", delisted_at__isnull=False
        ).count()
        == 40
    )
    assert (
        WatchlistEntry.objects.filter(delisted_at__isnull=True).count()
        == PERSONS + ORGANIZATIONS + WALLETS - 40
    )

    again = watchlist_load(source="sample", lines=lines(entities))

    assert again.relisted == 40
    assert WatchlistEntry.objects.filter(delisted_at__isnull=False).count() == 0


def test_a_changed_entity_is_updated_and_reported_for_rescreening(sample_list):
    entities = sample.generate()
    entities[0]["properties"]["alias"].append("Igor Zvyagorskiy")

    report = watchlist_load(source="sample", lines=lines(entities))

    anchor = WatchlistEntry.objects.get(entity_id="satchel-sample-anchor-ru")
    assert (report.updated, report.added, report.delisted) == (1, 0, 0)
    assert report.changed_ids == [anchor.pk]
    assert "Igor Zvyagorskiy" in anchor.names


def test_sources_are_independent(sample_list):
    report = watchlist_load(source="other", lines=lines(sample.generate()[:3]))

    assert report.added == 3
    assert WatchlistEntry.objects.filter(source="sample", delisted_at__isnull=True).count() == (
        PERSONS + ORGANIZATIONS + WALLETS
    )


def test_a_malformed_line_loads_nothing(sample_list):
    before = table()
    broken = [*lines(sample.generate()[:50]), "{not json\n"]

    with pytest.raises(WatchlistFormatError, match="line 51"):
        watchlist_load(source="sample", lines=broken)

    assert table() == before


def test_an_empty_file_does_not_delist_the_source(sample_list):
    before = table()

    with pytest.raises(InvalidRequest, match="refusing to delist"):
        watchlist_load(source="sample", lines=["\n"])

    assert table() == before


def test_the_command_loads_reports_and_rescreens_customers(db, alice, tmp_path):
    user_screen(user=alice, full_name="Maria Quillberg", birth_date=None)
    call_command("load_watchlist", str(SAMPLE), "--source", "sample", verbosity=0, stdout=StringIO())
    assert Alert.objects.count() == 0
    listed = [
        *sample.generate(),
        {
            "id": "new-1",
            "schema": "Person",
            "properties": {"name": ["Maria Quillberg"], "topics": ["sanction"]},
        },
    ]
    path = tmp_path / "update.ftm.jsonl"
    path.write_text("".join(lines(listed)), encoding="utf-8")
    out = StringIO()

    call_command("load_watchlist", str(path), "--source", "sample", verbosity=0, stdout=out)

    assert "1 added" in out.getvalue()
    assert "1 name alerts" in out.getvalue()
    alert = Alert.objects.get()
    assert (alert.subject, alert.kind, alert.score, alert.context) == (alice, "sanctions", 100, "list:sample")
    assert alert.entry.entity_id == "new-1"


def test_a_listed_wallet_flags_customers_who_sent_to_it(demo_markets, alice, tmp_path):
    from exchange.models import Withdrawal

    Withdrawal.objects.create(
        user=alice,
        asset=demo_markets["ETH"],
        blockchain="Ethereum",
        to_address=sample.ANCHOR_ETH.upper().replace("0X", "0x"),
        quantity=Decimal("1"),
        fee=Decimal("0"),
    )
    out = StringIO()

    call_command("load_watchlist", str(SAMPLE), "--source", "sample", verbosity=0, stdout=out)

    alert = Alert.objects.get()
    assert (alert.subject, alert.kind, alert.address) == (alice, "address", sample.ANCHOR_ETH.lower())
    assert "1 address alerts" in out.getvalue()


def test_the_command_refuses_a_missing_or_broken_file(db, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "x"}\n', encoding="utf-8")

    with pytest.raises(CommandError, match="no such file"):
        call_command("load_watchlist", str(tmp_path / "missing.jsonl"), verbosity=0)
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load_watchlist", str(broken), verbosity=0)
    assert WatchlistEntry.objects.count() == 0
