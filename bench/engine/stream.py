"""The standard benchmark stream: seeded, realistic mix of limit, market and cancel commands.

Shape (per command):
- ~60% limit orders: side 50/50, price around a fair value that follows a random walk; most are
  passive, a few ticks to a few dozen ticks behind the fair value (exponential), and about one in
  eight is marketable, priced up to 4 ticks through it.
- ~10% market orders by quantity.
- ~30% cancels of orders that are live at that moment: mostly recent ones (requotes), some old.
- Sizes are log-normal (median ~20 lots); 1,000 accounts.

Which orders are live depends on matching, so the generator runs Satchel's engine while it writes
the stream (STP `Allow`, since no peer has self-trade prevention; every engine with price-time
priority reaches the same live set). The stream then is a plain file that every adapter reads.
"""

from __future__ import annotations

import random
from pathlib import Path

from exchange.engine.commands import cancel_order, limit_order, market_order
from exchange.engine.engine import MatchingEngine
from exchange.engine.enums import ALLOW, ASK, BID
from exchange.engine.events import Fill, OrderAccepted

ACCOUNTS = 1000
START_PRICE = 100_000  # ticks: 1,000.00 with a 0.01 tick
RECENT = 64  # cancels pick among this many most recently placed live orders, mostly


def generate(path: Path, count: int, seed: int) -> dict[str, int]:
    """Write `count` commands to `path`; return facts about the run for the report."""
    rng = random.Random(seed)
    engine = MatchingEngine()
    live: list[int] = []  # live order ids, roughly in placement order
    position: dict[int, int] = {}
    fair = START_PRICE
    order_id = 0
    limits = markets = cancels = 0

    def forget(dead: int) -> None:
        index = position.pop(dead)
        last = live.pop()
        if last != dead:
            live[index] = last
            position[last] = index

    with path.open("w", encoding="ascii") as out:
        for _ in range(count):
            fair += round(rng.gauss(0, 0.6))
            draw = rng.random()
            victim = None
            if draw < 0.30 and live:
                recent = rng.random() < 0.8
                index = (
                    rng.randrange(max(0, len(live) - RECENT), len(live))
                    if recent
                    else rng.randrange(len(live))
                )
                victim = live[index]
                account = engine.book.orders[victim].account_id
                events = engine.apply(cancel_order(victim, account))
                out.write(f"C,{victim},{account}\n")
                cancels += 1
            else:
                order_id += 1
                account = rng.randrange(1, ACCOUNTS + 1)
                is_bid = rng.random() < 0.5
                side = BID if is_bid else ASK
                quantity = max(1, int(rng.lognormvariate(3.0, 1.0)))
                if draw < 0.40:
                    events = engine.apply(
                        market_order(order_id, account, side, quantity, self_trade_prevention=ALLOW)
                    )
                    out.write(f"M,{order_id},{account},{int(is_bid)},{quantity}\n")
                    markets += 1
                else:
                    marketable = rng.random() < 0.125
                    offset = -rng.randint(0, 4) if marketable else 1 + int(rng.expovariate(1 / 12))
                    price = max(1, fair - offset if is_bid else fair + offset)
                    events = engine.apply(
                        limit_order(order_id, account, side, price, quantity, self_trade_prevention=ALLOW)
                    )
                    out.write(f"L,{order_id},{account},{int(is_bid)},{price},{quantity}\n")
                    limits += 1
            for event in events:
                if type(event) is Fill and event.maker_remaining_lots == 0:
                    forget(event.maker_order_id)
                elif type(event) is OrderAccepted and event.resting_lots:
                    position[event.order_id] = len(live)
                    live.append(event.order_id)
            if victim is not None:
                forget(victim)
    depth = engine.depth()
    return {
        "limits": limits,
        "markets": markets,
        "cancels": cancels,
        "trades": engine.trade_id,
        "final_resting_orders": len(engine.book.orders),
        "final_bid_levels": len(depth.bids),
        "final_ask_levels": len(depth.asks),
    }
