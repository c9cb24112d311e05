"""Per-process caches of the rows every signed order call reads: its API key with the user, and
its market with the two assets, each with the row's text (`SeenRows`).

Read afresh, these are two of a call's three round trips to PostgreSQL and about a third of the
web process's CPU per order (docs/PERFORMANCE.md, REST API round 8). A cached row is never
trusted on its own: the order statement stores nothing unless every row still reads as its text
(exchange/services/orders.py `SeenRows`), and the caller drops the entries and answers from a
fresh read when it does not, or when anything refuses the call (exchange/api/fast_orders.py).
So a revoked key, a deactivated or re-tiered user or a halted market takes effect from the next
call on, exactly as with a fresh read.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import ApiKey, User
from core.api_prepared import prepared_cursor
from core.api_rows import row_shape
from exchange.models import Asset, Market
from exchange.services.orders import API_KEY_ROW_TEXT, MARKET_ROW_TEXT, USER_ROW_TEXT, asset_row_text

# Entries kept per process; past this the cache starts over (a burst of one-off keys or symbols
# must not grow a web process without bound).
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class SeenKey:
    key: ApiKey  # with `key.user`
    key_text: str
    user_text: str


@dataclass(frozen=True, slots=True)
class SeenMarket:
    market: Market  # with `market.base` and `market.quote`
    market_text: str
    base_text: str
    quote_text: str


_keys: dict[str, SeenKey] = {}
_markets: dict[str, SeenMarket] = {}


def seen_key(public_key: str) -> SeenKey | None:
    """The unrevoked key `public_key` with its user, from the cache or read (None: no such key)."""
    found = _keys.get(public_key)
    if found is not None:
        return found
    key_shape, user_shape = row_shape(ApiKey), row_shape(User)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {key_shape.select('k')}, {user_shape.select('u')}, {API_KEY_ROW_TEXT}, {USER_ROW_TEXT}"  # noqa: S608  (columns from _meta)
            ' FROM accounts_apikey k JOIN accounts_user u ON u.id = k."user_id"'
            " WHERE k.public_key = %s AND k.revoked_at IS NULL",
            [public_key],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    key = key_shape.instance(row)
    key.user = user_shape.instance(row, key_shape.width)
    found = SeenKey(key=key, key_text=row[-2], user_text=row[-1])
    _remember(_keys, public_key, found)
    return found


def seen_market(symbol: str) -> SeenMarket | None:
    """The market `symbol` with its assets, from the cache or read (None: no such market)."""
    found = _markets.get(symbol)
    if found is not None:
        return found
    market_shape, asset_shape = row_shape(Market), row_shape(Asset)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {market_shape.select('m')}, {asset_shape.select('b')}, {asset_shape.select('q')},"  # noqa: S608  (columns from _meta)
            f" {MARKET_ROW_TEXT}, {asset_row_text('b')}, {asset_row_text('q')}"
            ' FROM exchange_market m JOIN exchange_asset b ON b.id = m."base_id"'
            ' JOIN exchange_asset q ON q.id = m."quote_id" WHERE m.symbol = %s',
            [symbol],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    market = market_shape.instance(row)
    market.base = asset_shape.instance(row, market_shape.width)
    market.quote = asset_shape.instance(row, market_shape.width + asset_shape.width)
    found = SeenMarket(market=market, market_text=row[-3], base_text=row[-2], quote_text=row[-1])
    _remember(_markets, symbol, found)
    return found


def seen_forget(*, public_key: str, symbol: object) -> None:
    """Drop what the cache holds for this key and this market: the next call reads them afresh."""
    _keys.pop(public_key, None)
    if isinstance(symbol, str):
        _markets.pop(symbol, None)


def seen_clear() -> None:
    _keys.clear()
    _markets.clear()


def _remember(cache: dict[str, SeenKey] | dict[str, SeenMarket], name: str, value: object) -> None:
    if len(cache) >= MAX_ENTRIES:
        cache.clear()
    cache[name] = value  # type: ignore[assignment]
