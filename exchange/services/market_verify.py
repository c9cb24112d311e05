"""Replay a market's whole command log through a fresh engine and compare with the database.

The database must equal a replay of the accepted commands: same fills (trade id, price, quantity,
maker, taker), same resting book. Used by operators after an incident and by the crash tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exchange.engine import events as ev
from exchange.engine.engine import MatchingEngine
from exchange.models import Fill, Market, MarketCommand, MarketState, Order, OrderStatus, OrderType, Side
from exchange.services.matching import engine_command, market_spec


@dataclass
class VerifyReport:
    commands: int = 0
    fills: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def market_verify(market: Market) -> VerifyReport:
    report = VerifyReport()
    spec = market_spec(market)
    engine = MatchingEngine()
    state = MarketState.objects.filter(market=market).first()
    if state is None:
        return report  # never traded
    replayed: list[tuple[int, int, int, int, int]] = []
    commands = (
        MarketCommand.objects.filter(market=market, sequence__lte=state.last_applied_sequence)
        .select_related("order")
        .order_by("sequence")
    )
    for command in commands.iterator(chunk_size=2000):
        report.commands += 1
        if command.sequence != engine.sequence + 1:
            report.problems.append(f"gap in the command log before sequence {command.sequence}")
            engine.sequence = command.sequence - 1
        for event in engine.apply(engine_command(command, spec, engine)):
            if type(event) is ev.Fill:
                replayed.append(
                    (event.trade_id, event.price, event.lots, event.maker_order_id, event.taker_order_id)
                )
    stored = [
        (
            f.trade_id,
            spec.price_to_ticks(f.price),
            spec.quantity_to_lots(f.quantity),
            f.maker_order_id,
            f.taker_order_id,
        )
        for f in Fill.objects.filter(market=market).order_by("trade_id")
    ]
    report.fills = len(stored)
    if stored != replayed:
        first = next((i for i, (a, b) in enumerate(zip(stored, replayed, strict=False)) if a != b), None)
        report.problems.append(
            f"fills differ from the replay: {len(stored)} stored, {len(replayed)} replayed, first difference at {first}"
        )
    book: dict[tuple[str, int], int] = {}
    resting = Order.objects.filter(
        market=market,
        is_applied=True,
        order_type=OrderType.LIMIT,
        status__in=(OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED),
    )
    for order in resting:
        key = (order.side, spec.price_to_ticks(order.price))
        book[key] = book.get(key, 0) + spec.quantity_to_lots(order.quantity - order.executed_quantity)
    depth = engine.depth()
    expected = {(Side.BID.value, p): q for p, q in depth.bids} | {
        (Side.ASK.value, p): q for p, q in depth.asks
    }
    if book != expected:
        report.problems.append(
            f"resting book differs from the replay: {len(book)} stored levels, {len(expected)} replayed"
        )
    if (state.last_trade_id, state.last_update_id) != (engine.trade_id, engine.update_id):
        report.problems.append(
            f"counters differ: stored trade/update ids {state.last_trade_id}/{state.last_update_id}, "
            f"replayed {engine.trade_id}/{engine.update_id}"
        )
    return report
