"""Reads behind the market-data and history endpoints: depth, trades, tickers, klines, and a user's
own orders and fills. Only reads; the market worker is the one writer of everything read here.

Aggregation happens in SQL. The worker commits a batch's fills, order states, candle and
`MarketState` counters in one transaction, so any single statement sees a consistent market.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Q, Value

from core.errors import InvalidSymbol
from exchange.models import Candle, Fill, Market, MarketState, Order, OrderStatus, OrderType, Side

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Weekly candles start on Monday (Backpack and Binance); 1970-01-05 is the first Monday after the epoch.
WEEK_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)

# Interval name -> fixed stride. "1month" is calendar months and handled apart.
KLINE_STRIDES: dict[str, timedelta] = {
    "1s": timedelta(seconds=1),
    "1m": timedelta(minutes=1),
    "3m": timedelta(minutes=3),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "6h": timedelta(hours=6),
    "8h": timedelta(hours=8),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "1w": timedelta(weeks=1),
}
MONTH = "1month"
KLINE_INTERVALS = (*KLINE_STRIDES, MONTH)
# The longest calendar month: bounds the raw rows a monthly bucket can hold.
_LONGEST_MONTH = timedelta(days=31)


def market_get_by_symbol(*, symbol: str, visible_only: bool = True) -> Market:
    """The market named `symbol` with its assets. Raises InvalidSymbol when there is none (or, with
    `visible_only`, when it is hidden from the public listing)."""
    markets = Market.objects.select_related("base", "quote")
    if visible_only:
        markets = markets.filter(visible=True)
    market = markets.filter(symbol=symbol).first()
    if market is None:
        raise InvalidSymbol(f"Unknown market {symbol}")
    return market


# --- depth ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthSnapshot:
    """Price levels, both sides ascending by price (Backpack's order: best bid last)."""

    asks: list[tuple[Decimal, Decimal]]
    bids: list[tuple[Decimal, Decimal]]
    last_update_id: int


# One statement, so one snapshot: the worker updates resting orders and `last_update_id` in the
# same transaction, and a separate query for the counter could see a later batch than the levels
# (a client would then drop WS deltas its book is missing). A single statement needs no
# REPEATABLE READ transaction, which could not be opened inside a caller's transaction anyway.
_DEPTH_SQL = """
WITH levels AS (
    SELECT side, price, SUM(quantity - executed_quantity) AS quantity
    FROM {order}
    WHERE market_id = %(market_id)s
      AND order_type = %(limit_type)s
      AND is_applied
      AND status IN (%(new)s, %(partially_filled)s)
    GROUP BY side, price
    HAVING SUM(quantity - executed_quantity) > 0
)
(SELECT 'state' AS kind, NULL::numeric AS price, NULL::numeric AS quantity,
        COALESCE((SELECT last_update_id FROM {state} WHERE market_id = %(market_id)s), 0) AS update_id)
UNION ALL
(SELECT %(ask)s, price, quantity, NULL FROM levels WHERE side = %(ask)s ORDER BY price ASC LIMIT %(limit)s)
UNION ALL
(SELECT %(bid)s, price, quantity, NULL FROM levels WHERE side = %(bid)s ORDER BY price DESC LIMIT %(limit)s)
"""


def depth_get(*, market_id: int, limit: int) -> DepthSnapshot:
    """The aggregated resting limit orders of a market (at most `limit` levels per side, best
    first) and the depth counter they correspond to."""
    sql = _DEPTH_SQL.format(order=Order._meta.db_table, state=MarketState._meta.db_table)
    params = {
        "market_id": market_id,
        "limit_type": OrderType.LIMIT.value,
        "new": OrderStatus.NEW.value,
        "partially_filled": OrderStatus.PARTIALLY_FILLED.value,
        "ask": Side.ASK.value,
        "bid": Side.BID.value,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    last_update_id = 0
    asks: list[tuple[Decimal, Decimal]] = []
    bids: list[tuple[Decimal, Decimal]] = []
    for kind, price, quantity, update_id in rows:
        if kind == "state":
            last_update_id = int(update_id)
        else:
            (asks if kind == Side.ASK else bids).append((price, quantity))
    asks.sort()
    bids.sort()
    return DepthSnapshot(asks=asks, bids=bids, last_update_id=last_update_id)


# --- public trades ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicTrade:
    trade_id: int
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    taker_side: str
    created_at: datetime


def trade_list(*, market_id: int, limit: int, offset: int = 0) -> list[PublicTrade]:
    """A market's trades, newest first (by trade id, which the worker assigns consecutively)."""
    rows = (
        Fill.objects.filter(market_id=market_id)
        .order_by("-trade_id")
        .values_list("trade_id", "price", "quantity", "quote_quantity", "taker_side", "created_at")
    )[offset : offset + limit]
    return [PublicTrade(*row) for row in rows]


# --- tickers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickerStats:
    """Rolling-window statistics. With no trade in the window every price is the last traded
    price before it (zero if the market never traded), volumes and counts zero."""

    market_id: int
    first_price: Decimal
    last_price: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int


# The window is (now - window, now]. Whole minutes come from the one-minute candles; the minute the
# window starts in is cut through, so its part inside the window comes from the fills themselves.
# Candle rows sort before nothing they overlap: fills cover [cutoff, first_minute), candles start
# at first_minute or later, so ordering by (time, trade id) gives first and last trade exactly.
_TICKER_SQL = """
WITH parts AS (
    SELECT market_id, start AS at, 0 AS trade_id, open, high, low, close,
           volume, quote_volume, trades
    FROM {candle}
    WHERE start >= %(first_minute)s AND start <= %(now)s {candle_market}
    UNION ALL
    SELECT market_id, created_at, trade_id, price, price, price, price,
           quantity, quote_quantity, 1
    FROM {fill}
    WHERE created_at >= %(cutoff)s AND created_at < %(first_minute)s AND created_at <= %(now)s
      {fill_market}
)
SELECT market_id,
       (array_agg(open ORDER BY at ASC, trade_id ASC))[1],
       (array_agg(close ORDER BY at DESC, trade_id DESC))[1],
       MAX(high), MIN(low), SUM(volume), SUM(quote_volume), SUM(trades)
FROM parts
GROUP BY market_id
"""


def _minute_ceiling(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


def ticker_list(*, market_ids: list[int], window: timedelta, now: datetime) -> dict[int, TickerStats]:
    """Statistics over (now - window, now] for each market in `market_ids` (one query for the
    trades, one for the last prices of markets that did not trade in the window)."""
    if not market_ids:
        return {}
    cutoff = now - window
    single = len(market_ids) == 1
    market_filter = "AND market_id = %(market_id)s" if single else "AND market_id = ANY(%(market_ids)s)"
    sql = _TICKER_SQL.format(
        candle=Candle._meta.db_table,
        fill=Fill._meta.db_table,
        candle_market=market_filter,
        fill_market=market_filter,
    )
    params = {
        "first_minute": _minute_ceiling(cutoff),
        "cutoff": cutoff,
        "now": now,
        "market_id": market_ids[0],
        "market_ids": list(market_ids),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = {row[0]: TickerStats(*row) for row in rows}
    idle = [market_id for market_id in market_ids if market_id not in result]
    if idle:
        last_prices = dict(
            MarketState.objects.filter(market_id__in=idle, last_price__isnull=False).values_list(
                "market_id", "last_price"
            )
        )
        zero = Decimal(0)
        for market_id in idle:
            price = last_prices.get(market_id, zero)
            result[market_id] = TickerStats(market_id, price, price, price, price, zero, zero, 0)
    return result


# --- klines -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kline:
    start: datetime
    end: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int


# Buckets that start in [start, end), each aggregated over all of its rows (the last bucket is not
# cut at `end`). Rows in a bucket start at or after the bucket, so `raw_from = start` is exact, and
# before bucket + stride, so `raw_to = end + stride` bounds the index range scan.
_KLINE_FROM_CANDLES_SQL = """
SELECT bucket,
       (array_agg(open ORDER BY start ASC))[1],
       MAX(high), MIN(low),
       (array_agg(close ORDER BY start DESC))[1],
       SUM(volume), SUM(quote_volume), SUM(trades)
FROM (
    SELECT {bucket} AS bucket, start, open, high, low, close, volume, quote_volume, trades
    FROM {candle}
    WHERE market_id = %(market_id)s AND start >= %(raw_from)s AND start < %(raw_to)s
) AS rows
WHERE bucket >= %(start)s AND bucket < %(end)s
GROUP BY bucket
ORDER BY bucket
LIMIT %(limit)s
"""

# One-second candles are finer than the stored candles: aggregate the fills.
_KLINE_FROM_FILLS_SQL = """
SELECT date_trunc('second', created_at) AS bucket,
       (array_agg(price ORDER BY created_at ASC, trade_id ASC))[1],
       MAX(price), MIN(price),
       (array_agg(price ORDER BY created_at DESC, trade_id DESC))[1],
       SUM(quantity), SUM(quote_quantity), COUNT(*)
FROM {fill}
WHERE market_id = %(market_id)s AND created_at >= %(start)s AND created_at < %(end)s
GROUP BY bucket
ORDER BY bucket
LIMIT %(limit)s
"""


def _add_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month)


def kline_list(*, market_id: int, interval: str, start: datetime, end: datetime, limit: int) -> list[Kline]:
    """Candles of `interval` whose start lies in [start, end), oldest first, at most `limit`.

    Only intervals with at least one trade are returned: an empty interval has no open/high/low/
    close, and leaving it out is what clients handle best (ccxt would otherwise emit None prices).
    Buckets are aligned on the Unix epoch, weeks on Mondays, months on calendar months, all UTC.
    """
    params: dict[str, object] = {"market_id": market_id, "start": start, "end": end, "limit": limit}
    if interval == "1s":
        sql = _KLINE_FROM_FILLS_SQL.format(fill=Fill._meta.db_table)
    else:
        if interval == MONTH:
            bucket = "date_trunc('month', start, 'UTC')"
            widest = _LONGEST_MONTH
        else:
            stride = KLINE_STRIDES[interval]
            bucket = "date_bin(%(stride)s, start, %(origin)s)"
            params["stride"] = stride
            params["origin"] = WEEK_ORIGIN if interval == "1w" else EPOCH
            widest = stride
        params["raw_from"] = start
        params["raw_to"] = end + widest
        sql = _KLINE_FROM_CANDLES_SQL.format(bucket=bucket, candle=Candle._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    klines = []
    for bucket_start, open_, high, low, close, volume, quote_volume, trades in rows:
        bucket_start = bucket_start.astimezone(UTC)
        bucket_end = _add_month(bucket_start) if interval == MONTH else bucket_start + KLINE_STRIDES[interval]
        klines.append(
            Kline(bucket_start, bucket_end, open_, high, low, close, volume, quote_volume, int(trades))
        )
    return klines


# --- the caller's own orders and fills --------------------------------------------------------------


def order_list_history(
    *,
    user_id: int,
    order_id: int | None = None,
    market_id: int | None = None,
    market_types: list[str] | None = None,
    ascending: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Order]:
    """The user's orders, open and finished, by id (newest first unless `ascending`)."""
    orders = Order.objects.filter(user_id=user_id).select_related("market")
    if order_id is not None:
        orders = orders.filter(pk=order_id)
    if market_id is not None:
        orders = orders.filter(market_id=market_id)
    if market_types is not None:
        orders = orders.filter(market__market_type__in=market_types)
    return list(orders.order_by("id" if ascending else "-id")[offset : offset + limit])


@dataclass(frozen=True)
class UserFill:
    """One side of a fill that belongs to the user. A self-trade gives the user two of these."""

    fill: Fill
    is_maker: bool


def fill_list_history(
    *,
    user_id: int,
    order_id: int | None = None,
    market_id: int | None = None,
    market_types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ascending: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[UserFill]:
    """The user's sides of fills, by fill id (newest first unless `ascending`); `since`/`until` are
    inclusive bounds on the trade time. Two queries: one page of (fill, side) keys, then the rows."""
    common = Q()
    if market_id is not None:
        common &= Q(market_id=market_id)
    if market_types is not None:
        common &= Q(market__market_type__in=market_types)
    if since is not None:
        common &= Q(created_at__gte=since)
    if until is not None:
        common &= Q(created_at__lte=until)
    maker = Q(maker_user_id=user_id) & common
    taker = Q(taker_user_id=user_id) & common
    if order_id is not None:
        maker &= Q(maker_order_id=order_id)
        taker &= Q(taker_order_id=order_id)
    keys = (
        Fill.objects.filter(maker)
        .annotate(is_maker=Value(True))
        .values_list("id", "is_maker")
        .union(
            Fill.objects.filter(taker).annotate(is_maker=Value(False)).values_list("id", "is_maker"),
            all=True,
        )
    )
    # The two sides of a self-trade: maker first ascending, taker first descending (exact reversal).
    keys = keys.order_by("id", "-is_maker") if ascending else keys.order_by("-id", "is_maker")
    page = list(keys[offset : offset + limit])
    fills = Fill.objects.select_related(
        "market", "maker_order", "taker_order", "maker_fee_asset", "taker_fee_asset"
    ).in_bulk([fill_id for fill_id, _ in page])
    return [UserFill(fills[fill_id], is_maker) for fill_id, is_maker in page]
