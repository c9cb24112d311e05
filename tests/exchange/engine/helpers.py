"""Small builders for engine tests: a cast of accounts, commands by name, event filters."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import count
from typing import TypeVar

from exchange.engine.commands import PlaceOrder, cancel_order, limit_order, market_order
from exchange.engine.engine import MatchingEngine
from exchange.engine.enums import ASK, BID, GTC, REJECT_TAKER, SelfTradePrevention, Side, TimeInForce
from exchange.engine.events import Event, Fill, LevelChanged, OrderAccepted, OrderExpired

# The fixed cast (CONVENTIONS.md), as engine account ids.
ALICE, BOB, CAROL, MALLORY = 1, 2, 3, 4

E = TypeVar("E")


class Desk:
    """An engine plus an order id counter, so tests read as a sequence of trading actions."""

    def __init__(self, engine: MatchingEngine | None = None, first_id: int = 1) -> None:
        self.engine = engine or MatchingEngine()
        self.ids = count(first_id)

    def limit(
        self,
        account: int,
        side: Side,
        price: int,
        quantity: int,
        tif: TimeInForce = GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = REJECT_TAKER,
        client_id: int | None = None,
    ) -> list[Event]:
        command = limit_order(next(self.ids), account, side, price, quantity, tif, post_only, stp, client_id)
        return self.engine.apply(command)

    def bid(self, account: int, price: int, quantity: int, **options: object) -> list[Event]:
        return self.limit(account, BID, price, quantity, **options)  # type: ignore[arg-type]

    def ask(self, account: int, price: int, quantity: int, **options: object) -> list[Event]:
        return self.limit(account, ASK, price, quantity, **options)  # type: ignore[arg-type]

    def market(self, account: int, side: Side, **options: object) -> list[Event]:
        return self.engine.apply(market_order(next(self.ids), account, side, **options))  # type: ignore[arg-type]

    def place(self, command: PlaceOrder) -> list[Event]:
        return self.engine.apply(command)

    def cancel(self, order_id: int, account: int) -> list[Event]:
        return self.engine.apply(cancel_order(order_id, account))


def of_type(events: Iterable[object], kind: type[E]) -> list[E]:
    return [event for event in events if type(event) is kind]


def accepted(events: Iterable[object]) -> OrderAccepted:
    (event,) = of_type(events, OrderAccepted)
    return event


def fills(events: Iterable[object]) -> list[tuple[int, int, int]]:
    """(maker order id, price, lots) per fill."""
    return [(f.maker_order_id, f.price, f.lots) for f in of_type(events, Fill)]


def levels(events: Iterable[object]) -> list[tuple[str, int, int]]:
    return [(str(e.side), e.price, e.total_lots) for e in of_type(events, LevelChanged)]


def expiry(events: Iterable[object]) -> list[tuple[int, str]]:
    return [(e.order_id, str(e.reason)) for e in of_type(events, OrderExpired)]
