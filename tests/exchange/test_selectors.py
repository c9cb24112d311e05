"""balances_for_user: every bucket of every asset the user holds an account in, zeros filled in."""

from __future__ import annotations

from decimal import Decimal

from exchange.models import AccountKind, EntryKind
from exchange.selectors import balances_for_user
from exchange.services.deposits import deposit_credit
from exchange.services.ledger import Line, house_account, ledger_account_get, ledger_post, transfer

ZERO = {"available": 0, "locked": 0, "staked": 0, "lent": 0, "borrowed": 0}


def test_user_without_accounts_has_no_balances(alice):
    assert balances_for_user(user_id=alice.pk) == {}


def test_buckets_per_asset_with_zeros_filled_in(demo_markets, alice, bob):
    btc, usdc, sol = demo_markets["BTC"], demo_markets["USDC"], demo_markets["SOL"]
    deposit_credit(user_id=alice.pk, asset=btc, quantity=Decimal("1.5"), source="administrator")
    deposit_credit(user_id=alice.pk, asset=usdc, quantity=Decimal("100"), source="administrator")
    transfer(
        source=ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=btc),
        destination=ledger_account_get(owner_id=alice.pk, kind=AccountKind.LOCKED, asset=btc),
        amount=Decimal("0.25"),
        kind=EntryKind.HOLD,
    )
    # A borrow: the debt bucket goes negative, the borrowed funds land in available.
    ledger_post(
        kind=EntryKind.TRANSFER,
        lines=[
            Line(
                ledger_account_get(owner_id=alice.pk, kind=AccountKind.BORROWED, asset=usdc), Decimal("-40")
            ),
            Line(
                ledger_account_get(owner_id=alice.pk, kind=AccountKind.AVAILABLE, asset=usdc), Decimal("40")
            ),
        ],
    )
    # An account that exists but is empty still lists its asset.
    ledger_account_get(owner_id=alice.pk, kind=AccountKind.STAKED, asset=sol)
    # Other users' and house accounts are not the caller's.
    deposit_credit(user_id=bob.pk, asset=demo_markets["ETH"], quantity=Decimal("3"), source="administrator")
    house_account(kind=AccountKind.FEES, asset=btc)

    balances = balances_for_user(user_id=alice.pk)

    assert balances == {
        "BTC": {**ZERO, "available": Decimal("1.25"), "locked": Decimal("0.25")},
        "SOL": ZERO,
        "USDC": {**ZERO, "available": Decimal("140"), "borrowed": Decimal("-40")},
    }
    assert list(balances) == ["BTC", "SOL", "USDC"]
    assert all(isinstance(value, Decimal) for buckets in balances.values() for value in buckets.values())
    assert list(balances["SOL"]) == ["available", "locked", "staked", "lent", "borrowed"]


def test_query_count_does_not_grow_with_assets(demo_markets, alice, django_assert_num_queries):
    for asset in demo_markets.values():
        deposit_credit(user_id=alice.pk, asset=asset, quantity=Decimal("1"), source="administrator")

    with django_assert_num_queries(1):
        balances = balances_for_user(user_id=alice.pk)

    assert set(balances) == set(demo_markets)
