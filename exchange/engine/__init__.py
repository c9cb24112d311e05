"""Satchel's matching engine: one in-memory book per market, price-time priority, pure Python.

No Django, Celery, Redis or I/O (an import-linter contract checks it); integers inside, Decimal only
at the edges. Import the submodules directly:

- `spec`      MarketSpec: exact Decimal <-> ticks / lots / notional units (ticks x lots).
- `commands`  PlaceOrder, CancelOrder, CancelAll (frozen) and fast factories for them.
- `events`    OrderAccepted, Fill, LevelChanged, OrderCancelled, OrderExpired, CancelRejected,
              OrderRejected, TriggerPlaced, OrderTriggered (frozen), ApplyResult.
- `engine`    MatchingEngine: apply / run, depth, snapshot / restore, counters.
- `state`     Snapshot, RestingOrder, Depth.
- `enums`     Backpack's names: Side, OrderType, TimeInForce, SelfTradePrevention, OrderStatus,
              ExpiryReason, TriggerKind, CancelScope, RejectReason.
- `book`, `matching`, `triggers`, `_frozen`: internals.

Rules worth knowing before using it (details in each module):
- FOK is decided by a dry run that walks the book exactly as the match would, self-trade
  prevention included; a killed FOK changes nothing, not even makers RejectMaker would remove.
- Trigger orders fire when the last trade price reaches the trigger price from the direction given
  by side and kind (Bid stop-loss and Ask take-profit on a rise; Ask stop-loss and Bid take-profit
  on a fall), after the incoming order that made the trade, in crossing order.
- A command that changes the visible book increments `update_id` once (depth `U`/`u`); every
  command increments `sequence`; every fill gets the next `trade_id`.
"""
