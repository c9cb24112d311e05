"""A seeded stream of every kind of command, and a transcript of what the engine made of it.

`python -m tests.exchange.engine.replay SEED COUNT` prints the transcript; `test_compiled.py` runs it
in a child process on the other engine implementation (compiled or pure) and compares it with its
own, so both engines must agree on every event, sequence and update id, and on the final book.
"""

from __future__ import annotations

import random
import sys

from exchange.engine.commands import (
    CancelAll,
    CancelOrder,
    CancelScope,
    Command,
    OrderType,
    PlaceOrder,
    cancel_all,
    cancel_order,
    limit_order,
    market_order,
)
from exchange.engine.engine import MatchingEngine
from exchange.engine.enums import (
    ALLOW,
    ASK,
    BID,
    FOK,
    GTC,
    IOC,
    REJECT_BOTH,
    REJECT_MAKER,
    REJECT_TAKER,
    TriggerKind,
)

STP = [REJECT_TAKER, REJECT_MAKER, REJECT_BOTH, ALLOW]


def stream(seed: int, count: int) -> list[Command]:
    """Limits (GTC/IOC/FOK, post-only), markets (by quantity, by quote, with a quote limit),
    triggers, cancels (own, foreign, unknown), cancel-alls, duplicates and malformed commands, over
    four accounts and a narrow price band so that orders cross and self-trade often."""
    rng = random.Random(seed)
    commands: list[Command] = []
    for order_id in range(1, count + 1):
        account = rng.randint(1, 4)
        side = rng.choice([BID, ASK])
        price = rng.randint(95, 105)
        lots = rng.randint(1, 9)
        stp = rng.choice(STP)
        roll = rng.random()
        if roll < 0.45:
            tif = rng.choice([GTC, GTC, GTC, IOC, FOK])
            post_only = tif is GTC and rng.random() < 0.1
            commands.append(limit_order(order_id, account, side, price, lots, tif, post_only, stp, order_id))
        elif roll < 0.55:
            if rng.random() < 0.5:
                commands.append(market_order(order_id, account, side, quote_quantity=rng.randint(50, 1500)))
            else:
                limit = rng.randint(0, 900) if side is BID and rng.random() < 0.5 else None
                tif = rng.choice([IOC, FOK])
                commands.append(market_order(order_id, account, side, lots, None, limit, tif, stp))
        elif roll < 0.62:
            kind = rng.choice([TriggerKind.STOP_LOSS, TriggerKind.TAKE_PROFIT])
            trigger = rng.randint(95, 105)
            if rng.random() < 0.5:
                commands.append(
                    limit_order(order_id, account, side, price, lots, GTC, False, stp, None, trigger, kind)
                )
            else:
                commands.append(
                    market_order(order_id, account, side, lots, None, None, IOC, stp, None, trigger, kind)
                )
        elif roll < 0.90:
            target = rng.randint(max(1, order_id - 40), order_id)  # often live, sometimes not
            commands.append(cancel_order(target, account))
        elif roll < 0.94:
            commands.append(cancel_all(account, rng.choice(list(CancelScope))))
        elif roll < 0.97:
            commands.append(limit_order(rng.randint(1, order_id), account, side, price, lots))  # duplicate?
        else:
            malformed = [
                limit_order(order_id, account, side, price, 0),
                limit_order(order_id, account, side, float(price), lots),  # type: ignore[arg-type]
                PlaceOrder(str(order_id), account, side, OrderType.LIMIT, lots, price),  # type: ignore[arg-type]
                limit_order(order_id, account, side, price, lots, client_id="x"),  # type: ignore[arg-type]
                CancelOrder(str(order_id), account),  # type: ignore[arg-type]
                CancelAll(str(account)),  # type: ignore[arg-type]
            ]
            commands.append(rng.choice(malformed))
    return commands


def transcript(seed: int, count: int) -> str:
    engine = MatchingEngine()
    lines = [repr(result) for result in engine.run(stream(seed, count))]
    lines.append(repr(engine.snapshot()))
    lines.append(repr(engine.depth()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(transcript(int(sys.argv[1]), int(sys.argv[2])))
