"""A frozen account can neither place orders nor withdraw; nothing changes when it tries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compliance.services.freezes import account_freeze
from core.errors import Forbidden
from exchange.models import Market, Order, Withdrawal
from exchange.selectors import balances_for_user
from exchange.services.deposits import deposit_credit
from exchange.services.order_request import OrderRequest
from exchange.services.orders import order_place
from exchange.services.withdrawals import withdrawal_approve, withdrawal_request
from tests.fixtures.staff import staff_device, totp_code


@pytest.mark.django_db
def test_frozen_account_cannot_trade_or_withdraw(demo_markets, alice, carol, settings):
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    market = Market.objects.select_related("base", "quote").get(symbol="SOL_USDC")
    settings.WITHDRAWAL_ADDRESS_WAITING_PERIOD = 0
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("500"), source="administrator")
    withdrawal = withdrawal_request(
        user=alice,
        asset_symbol="USDC",
        blockchain="Solana",
        address="9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
        quantity=Decimal("10"),
        two_factor_token=totp_code(staff_device(alice)),  # every withdrawal needs a code
    )
    account_freeze(user=alice, officer=carol, reason="confirmed sanctions hit")
    before = balances_for_user(user_id=alice.pk)

    request = OrderRequest(
        side="Bid",
        order_type="Limit",
        price=Decimal("10"),
        quantity=Decimal("1"),
        quote_quantity=None,
        time_in_force="GTC",
        post_only=False,
        self_trade_prevention="RejectTaker",
        client_id=None,
        trigger_price=None,
    )
    with pytest.raises(Forbidden):
        order_place(user=alice, market=market, request=request)
    assert Order.objects.filter(user=alice).count() == 0

    rejected = withdrawal_approve(withdrawal_id=withdrawal.pk)
    assert rejected.status == "rejected"
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "rejected"
    after = balances_for_user(user_id=alice.pk)
    # The rejected withdrawal's hold went back to available; nothing else moved.
    assert after["USDC"]["available"] == before["USDC"]["available"] + before["USDC"]["locked"]
    assert after["USDC"]["locked"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_frozen_account_hears_it_first_even_for_an_order_it_could_not_pay(
    demo_markets, alice, carol, settings
):
    # The freeze is read in the order's own statement now: it still takes effect on the next
    # order, and still comes before the balance refusal.
    settings.ORDER_RESULT_WAIT_SECONDS = 0
    market = Market.objects.select_related("base", "quote").get(symbol="SOL_USDC")
    deposit_credit(user_id=alice.pk, asset=market.quote, quantity=Decimal("500"), source="administrator")
    account_freeze(user=alice, officer=carol, reason="confirmed sanctions hit")
    before = balances_for_user(user_id=alice.pk)

    for quantity in ("1", "1000"):  # fundable, and beyond the balance
        request = OrderRequest(
            side="Bid",
            order_type="Limit",
            price=Decimal("10"),
            quantity=Decimal(quantity),
            quote_quantity=None,
            time_in_force="GTC",
            post_only=False,
            self_trade_prevention="RejectTaker",
            client_id=None,
            trigger_price=None,
        )
        with pytest.raises(Forbidden, match="frozen"):
            order_place(user=alice, market=market, request=request)

    # A market sell for a quote amount holds all available SOL, and alice has none.
    nothing_to_sell = OrderRequest(
        side="Ask",
        order_type="Market",
        price=None,
        quantity=None,
        quote_quantity=Decimal("10"),
        time_in_force="IOC",
        post_only=False,
        self_trade_prevention="RejectTaker",
        client_id=None,
        trigger_price=None,
    )
    with pytest.raises(Forbidden, match="frozen"):
        order_place(user=alice, market=market, request=nothing_to_sell)

    assert Order.objects.filter(user=alice).count() == 0
    after = balances_for_user(user_id=alice.pk)
    assert after["USDC"] == before["USDC"]
    assert after["SOL"]["available"] == after["SOL"]["locked"] == 0  # looked up (created empty) only
