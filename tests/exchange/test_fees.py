"""Fee tiers: the rates a user pays follow their 30-day USDC volume; the admin edits the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

import exchange.admin_fees  # noqa: F401 (registers FeeTierAdmin, as exchange/admin.py does)
from exchange.models import FeeTier, Market, MarketType, Side
from exchange.services.fees import fee_rates_for_user, fee_tiers_seed_defaults, volume_30d_for_user
from tests.factories.trading import market_get, trade_make
from tests.fixtures.staff import staff_login

NOW = datetime(2025, 7, 27, 12, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def tiers(db):
    fee_tiers_seed_defaults()


def tier_rows() -> list[tuple[object, ...]]:
    return list(
        FeeTier.objects.order_by("min_volume_30d").values_list(
            "name",
            "min_volume_30d",
            "spot_maker_rate",
            "spot_taker_rate",
            "futures_maker_rate",
            "futures_taker_rate",
        )
    )


SEEDED = [
    ("Tier 1", D(0), D("0.0008"), D("0.001"), D("0.0002"), D("0.0005")),
    ("Tier 2", D(1_000_000), D("0.0006"), D("0.0009"), D("0.00015"), D("0.00045")),
    ("Tier 3", D(10_000_000), D("0.0004"), D("0.0008"), D("0.0001"), D("0.0004")),
]


def test_empty_table_falls_back_to_the_settings_defaults(alice, settings):
    settings.DEFAULT_FEES = {
        "spot_maker": "0.0007",
        "spot_taker": "0.0011",
        "futures_maker": "0.0003",
        "futures_taker": "0.0006",
    }
    assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.SPOT) == (D("0.0007"), D("0.0011"))
    assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.PERP) == (D("0.0003"), D("0.0006"))


def test_seeding_creates_the_default_tiers_once_and_never_overrides_the_operator(db):
    assert fee_tiers_seed_defaults() == 3
    assert tier_rows() == SEEDED

    assert fee_tiers_seed_defaults() == 0
    assert tier_rows() == SEEDED

    # The operator trims and edits the table: seeding again leaves it as they made it.
    FeeTier.objects.filter(name="Tier 3").delete()
    FeeTier.objects.filter(name="Tier 2").update(spot_taker_rate=D("0.00085"))
    edited = tier_rows()
    assert fee_tiers_seed_defaults() == 0
    assert tier_rows() == edited


def test_new_user_pays_the_base_tier(tiers, alice):
    assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.SPOT) == (D("0.0008"), D("0.001"))
    assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.PERP) == (D("0.0002"), D("0.0005"))


@pytest.fixture
def sol(demo_markets) -> Market:
    return market_get("SOL_USDC")


def test_volume_counts_the_users_fills_of_the_last_30_days_once_each(
    clock, demo_markets, sol, alice, bob, mallory
):
    def trade(maker, taker, quantity: str, age: timedelta) -> None:
        trade_make(
            market=sol,
            maker=maker,
            taker=taker,
            taker_side=Side.BID,
            price="100",
            quantity=quantity,
            at=NOW - age,
        )

    trade(alice, bob, "1000", timedelta(days=1))  # maker: 100,000
    trade(bob, alice, "2000", timedelta(days=29))  # taker: 200,000
    trade(alice, alice, "500", timedelta(hours=1))  # a self-trade counts once: 50,000
    trade(bob, alice, "3", timedelta(days=30))  # exactly at the window's start: 300
    trade(bob, alice, "99999", timedelta(days=30, seconds=1))  # too old
    trade(bob, mallory, "99999", timedelta(hours=2))  # not alice's
    perp = market_get("SOL_USDC_PERP")
    trade_make(
        market=perp,
        maker=bob,
        taker=alice,
        taker_side=Side.ASK,
        price="100",
        quantity="7",
        at=NOW - timedelta(days=2),
    )  # futures count too: 700
    # A market quoted in BTC: its amounts are not USDC and do not count.
    eth_btc = Market.objects.create(
        symbol="ETH_BTC",
        base=demo_markets["ETH"],
        quote=demo_markets["BTC"],
        market_type=MarketType.SPOT,
        tick_size=D("0.00001"),
        step_size=D("0.001"),
        min_price=D("0.00001"),
        min_quantity=D("0.001"),
    )
    trade_make(
        market=eth_btc,
        maker=alice,
        taker=bob,
        taker_side=Side.BID,
        price="0.05",
        quantity="1000000000",
        at=NOW - timedelta(days=1),
    )

    assert volume_30d_for_user(user_id=alice.pk) == D("351000")
    assert volume_30d_for_user(user_id=mallory.pk) == D("9999900")


@pytest.mark.parametrize(
    ("quantity", "spot", "futures"),
    [
        ("9999.99", (D("0.0008"), D("0.001")), (D("0.0002"), D("0.0005"))),
        ("10000", (D("0.0006"), D("0.0009")), (D("0.00015"), D("0.00045"))),
        ("99999.99", (D("0.0006"), D("0.0009")), (D("0.00015"), D("0.00045"))),
        ("100000", (D("0.0004"), D("0.0008")), (D("0.0001"), D("0.0004"))),
        ("5000000", (D("0.0004"), D("0.0008")), (D("0.0001"), D("0.0004"))),
    ],
)
def test_rates_come_from_the_highest_tier_reached(clock, tiers, sol, alice, bob, quantity, spot, futures):
    # Price 100: quantity 10,000 is exactly the 1,000,000 USDC threshold of Tier 2.
    trade_make(
        market=sol, maker=bob, taker=alice, taker_side=Side.BID, price="100", quantity=quantity, at=NOW
    )
    assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.SPOT) == spot
    assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.PERP) == futures
    # Bob was the maker of the same fill: the same volume, the same tier.
    assert fee_rates_for_user(user_id=bob.pk, market_type=MarketType.SPOT) == spot


def test_rates_drop_back_when_old_volume_leaves_the_window(tiers, sol, alice, bob):
    with time_machine.travel(NOW - timedelta(days=20), tick=False):
        trade_make(
            market=sol,
            maker=bob,
            taker=alice,
            taker_side=Side.BID,
            price="100",
            quantity="20000",
            at=NOW - timedelta(days=20),
        )
        assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.SPOT) == (D("0.0006"), D("0.0009"))
    with time_machine.travel(NOW + timedelta(days=11), tick=False):
        assert fee_rates_for_user(user_id=alice.pk, market_type=MarketType.SPOT) == (D("0.0008"), D("0.001"))


# --- admin ------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, db):
    from accounts.models import User

    staff_login(client, User.objects.create_superuser("root@example.com", "root-password-1"))
    return client


def changelist_post(tier_ids: list[int], rates: dict[int, dict[str, str]]) -> dict[str, str]:
    data = {
        "form-TOTAL_FORMS": str(len(tier_ids)),
        "form-INITIAL_FORMS": str(len(tier_ids)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, tier_id in enumerate(tier_ids):
        data[f"form-{index}-id"] = str(tier_id)
        for field, value in rates[tier_id].items():
            data[f"form-{index}-{field}"] = value
    return data


def current_rates() -> dict[int, dict[str, str]]:
    fields = ["spot_maker_rate", "spot_taker_rate", "futures_maker_rate", "futures_taker_rate"]
    return {
        tier["id"]: {field: str(tier[field]) for field in fields}
        for tier in FeeTier.objects.values("id", *fields)
    }


def test_admin_lists_tiers_with_editable_rates(staff_client, tiers):
    response = staff_client.get(reverse("admin:exchange_feetier_changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Tier 2" in content
    assert 'name="form-0-spot_maker_rate"' in content


def test_admin_saves_a_rate_edit(staff_client, tiers):
    ids = list(FeeTier.objects.order_by("min_volume_30d").values_list("id", flat=True))
    rates = current_rates()
    rates[ids[1]]["spot_taker_rate"] = "0.00085"

    response = staff_client.post(reverse("admin:exchange_feetier_changelist"), changelist_post(ids, rates))

    assert response.status_code == 302
    assert FeeTier.objects.get(pk=ids[1]).spot_taker_rate == D("0.00085")


@pytest.mark.parametrize("bad_rate", ["0.1", "-0.0001"])
def test_admin_refuses_an_out_of_range_rate_and_changes_nothing(staff_client, tiers, bad_rate):
    ids = list(FeeTier.objects.order_by("min_volume_30d").values_list("id", flat=True))
    before = tier_rows()
    rates = current_rates()
    rates[ids[0]]["spot_taker_rate"] = bad_rate
    rates[ids[2]]["futures_maker_rate"] = "0.00005"  # valid, but the page is saved as a whole

    response = staff_client.post(reverse("admin:exchange_feetier_changelist"), changelist_post(ids, rates))

    assert response.status_code == 200
    assert "A rate is a fraction between 0 and 0.01" in response.content.decode()
    assert tier_rows() == before
