"""A matching batch's stream events: stored compact by the worker, rendered by the publisher.

Rendering every `account.orderUpdate` frame inside the batch's transaction (and JSON-encoding it,
and PostgreSQL compressing it) was the largest item on the matching worker's commit path
(docs/PERFORMANCE.md, sequencer). So the worker stores, per batch, one outbox row (stream
`BATCH_STREAM`) holding what the engine said in its own units and ids (`BatchEvents`), and the
publisher, another process, renders the frames (`batch_events_render`) with the orders' fixed
fields (side, type, prices, ...), which never change once an order is placed, read from
`exchange_order` then (`batch_orders_read`).

The rendered events are exactly the ones the worker used to store, one row per stream and user:
same events, in the same order (the rows' order: grouped per stream and user by first
appearance), same keys in the same order (the order jsonb gave them: by length, then bytewise).
tests/exchange/test_outbox_frames.py holds them to a transcript recorded before the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.backends.utils import CursorWrapper

from core.api_prepared import prepared_cursor
from core.db_copy import array_literal
from core.money import render
from exchange.engine.spec import MarketSpec

BATCH_STREAM = "matching.batch"
FORMAT = 1

ORDER_UPDATE = "account.orderUpdate"
BALANCE_UPDATE = "account.balanceUpdate"

# Public events: [DEPTH, update id, asks, bids] with levels [price ticks, total lots], and
# [TRADE, trade id, price ticks, lots, buyer order id, seller order id, buyer is maker].
DEPTH = 0
TRADE = 1


@dataclass(slots=True)
class BatchEvents:
    """The events of one batch, in engine units, in the order they happened."""

    symbol: str
    spec: MarketSpec
    micros: int
    public: list[list[Any]] = field(default_factory=list)
    # [order id, event name, status, executed lots, executed notional units, reason], and for an
    # orderFill also [trade id, lots, price ticks, is maker, fee (Decimal text), fee asset symbol].
    orders: list[list[Any]] = field(default_factory=list)
    # [user id, asset symbol, available, locked, staked] (rendered balances), by user then asset id.
    balances: list[list[Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.public or self.orders or self.balances)

    def payload(self) -> dict[str, Any]:
        return {
            "v": FORMAT,
            "s": self.symbol,
            "tick": str(self.spec.tick_size),
            "step": str(self.spec.step_size),
            "E": self.micros,
            "p": self.public,
            "o": self.orders,
            "b": self.balances,
        }


# The columns `account.orderUpdate` takes from the order itself (besides its id and user).
ORDER_FIELD_COLUMNS = (
    "side",
    "order_type",
    "time_in_force",
    "self_trade_prevention",
    "reduce_only",
    "client_id",
    "quantity",
    "quote_quantity",
    "price",
    "trigger_price",
    "trigger_by",
    "trigger_quantity",
    "post_only",
)
_ORDER_FIELDS_SQL = f"""SELECT id, user_id, {", ".join(ORDER_FIELD_COLUMNS)}
  FROM exchange_order WHERE id = ANY(%s::bigint[])"""  # noqa: S608  (column names are constants)


def batch_order_ids(payload: Mapping[str, Any]) -> set[int]:
    return {event[0] for event in payload["o"]}


def batch_orders_read(
    order_ids: Iterable[int], *, cursor: CursorWrapper | None = None
) -> dict[int, tuple[int, dict[str, Any]]]:
    """Per order id: (user id, the fields of its orderUpdate events that never change). Runs on
    `cursor` if given, else on a prepared cursor of its own (core/api_prepared.py)."""
    ids = list(order_ids)
    if not ids:
        return {}
    if cursor is None:
        with prepared_cursor() as own:
            return batch_orders_read(ids, cursor=own)
    cursor.execute(_ORDER_FIELDS_SQL, [array_literal(ids)])
    return dict(batch_order_entry(row) for row in cursor.fetchall())


def batch_order_entry(row: Sequence[Any]) -> tuple[int, tuple[int, dict[str, Any]]]:
    """(order id, (user id, static fields)) from `id, user_id, *ORDER_FIELD_COLUMNS`."""
    return row[0], (row[1], _order_static(*row[2:]))


def _order_static(
    side: str,
    order_type: str,
    time_in_force: str,
    self_trade_prevention: str,
    reduce_only: bool,
    client_id: int | None,
    quantity: Decimal | None,
    quote_quantity: Decimal | None,
    price: Decimal | None,
    trigger_price: Decimal | None,
    trigger_by: str,
    trigger_quantity: Decimal | None,
    post_only: bool,
) -> dict[str, Any]:
    static: dict[str, Any] = {
        "S": side,
        "o": order_type.upper(),
        "f": time_in_force,
        "V": self_trade_prevention,
        "O": "USER",
        "r": reduce_only,
    }
    optional = {
        "c": client_id,
        "q": quantity,
        "Q": quote_quantity,
        "p": price,
        "P": trigger_price,
        "B": trigger_by or None,
        "Y": trigger_quantity,
    }
    for key, value in optional.items():
        if value is not None:
            static[key] = render(value) if isinstance(value, Decimal) else value
    if post_only:
        static["y"] = True
    return static


class _Texts:
    """A batch's amounts as API strings, each distinct one converted once: prices and sizes
    repeat across a batch's events (a maker's level, a taker's fills)."""

    def __init__(self, spec: MarketSpec) -> None:
        self.spec = spec
        self.prices: dict[int, str] = {}
        self.quantities: dict[int, str] = {}
        self.quotes: dict[int, str] = {}

    def price(self, ticks: int) -> str:
        text = self.prices.get(ticks)
        if text is None:
            text = self.prices[ticks] = render(self.spec.ticks_to_price(ticks))
        return text

    def quantity(self, lots: int) -> str:
        text = self.quantities.get(lots)
        if text is None:
            text = self.quantities[lots] = render(self.spec.lots_to_quantity(lots))
        return text

    def quote(self, units: int) -> str:
        text = self.quotes.get(units)
        if text is None:
            text = self.quotes[units] = render(self.spec.units_to_quote(units))
        return text


def batch_events_render(
    payload: Mapping[str, Any], orders: Mapping[int, tuple[int, dict[str, Any]]]
) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(stream, user id or None, event) in publishing order. An order missing from `orders` (its
    user deleted since) has nobody to tell: its events are skipped."""
    symbol, micros = payload["s"], payload["E"]
    texts = _Texts(MarketSpec(tick_size=Decimal(payload["tick"]), step_size=Decimal(payload["step"])))
    price, quantity = texts.price, texts.quantity
    flat: list[tuple[str, int | None, dict[str, Any]]] = []
    depth_stream, trade_stream = f"depth.{symbol}", f"trade.{symbol}"
    # Every dict below has its keys in jsonb's order (shorter first, then bytewise; all keys are
    # one character): the frames keep the order the outbox's jsonb column gave them.
    for event in payload["p"]:
        if event[0] == DEPTH:
            _, update_id, asks, bids = event
            data = {
                "E": micros,
                "T": micros,
                "U": update_id,
                "a": [[price(ticks), quantity(lots)] for ticks, lots in asks],
                "b": [[price(ticks), quantity(lots)] for ticks, lots in bids],
                "e": "depth",
                "s": symbol,
                "u": update_id,
            }
            flat.append((depth_stream, None, data))
        else:
            _, trade_id, ticks, lots, buyer_order, seller_order, buyer_is_maker = event
            data = {
                "E": micros,
                "T": micros,
                "a": str(seller_order),
                "b": str(buyer_order),
                "e": "trade",
                "m": buyer_is_maker,
                "p": price(ticks),
                "q": quantity(lots),
                "s": symbol,
                "t": trade_id,
            }
            flat.append((trade_stream, None, data))
    for event in payload["o"]:
        order = orders.get(event[0])
        if order is not None:
            flat.append((ORDER_UPDATE, order[0], _order_update(event, order[1], texts, symbol, micros)))
    for user_id, asset, available, locked, staked in payload["b"]:
        data = {"A": available, "E": micros, "L": locked, "S": staked, "a": asset, "e": "balanceUpdate"}
        flat.append((BALANCE_UPDATE, user_id, data))
    # One run per stream and user, in order of first appearance: the order the rows had when the
    # worker stored one per stream and user.
    grouped: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for stream, user_id, data in flat:
        grouped.setdefault((stream, user_id), []).append(data)
    return [(stream, user_id, data) for (stream, user_id), run in grouped.items() for data in run]


def _order_update(
    event: list[Any], static: dict[str, Any], texts: _Texts, symbol: str, micros: int
) -> dict[str, Any]:
    """An `account.orderUpdate` event (§8.4); optional fields only when the order has them."""
    order_id, name, status, lots, units, reason = event[:6]
    data: dict[str, Any] = {
        "e": name,
        "E": micros,
        "T": micros,
        "s": symbol,
        "i": str(order_id),
        "X": status,
        "z": texts.quantity(lots),
        "Z": texts.quote(units),
        **static,
    }
    if reason:
        data["R"] = reason
    if len(event) > 6:
        trade_id, fill_lots, ticks, is_maker, fee, fee_asset = event[6:]
        data["t"] = trade_id
        data["l"] = texts.quantity(fill_lots)
        data["L"] = texts.price(ticks)
        data["m"] = is_maker
        data["n"] = render(Decimal(fee))
        data["N"] = fee_asset
    # jsonb's key order; every key is one character, so plain sorting gives it.
    return dict(sorted(data.items()))


__all__ = [
    "BATCH_STREAM",
    "ORDER_FIELD_COLUMNS",
    "BatchEvents",
    "batch_events_render",
    "batch_order_entry",
    "batch_order_ids",
    "batch_orders_read",
]
