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

from accounts.api.authentication import api_key_read
from accounts.models import ApiKey
from exchange.api.orders import market_read
from exchange.models import Market
from exchange.services.orders import (
    API_KEY_ROW_TEXT,
    MARKET_ROW_TEXT,
    USER_ROW_TEXT,
    SeenRows,
    asset_row_text,
)

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
    read = api_key_read(public_key, extra=f"{API_KEY_ROW_TEXT}, {USER_ROW_TEXT}")
    if read is None:
        return None
    key, (key_text, user_text) = read
    found = SeenKey(key=key, key_text=key_text, user_text=user_text)
    _remember(_keys, public_key, found)
    return found


def seen_market(symbol: str) -> SeenMarket | None:
    """The market `symbol` with its assets, from the cache or read (None: no such market)."""
    found = _markets.get(symbol)
    if found is not None:
        return found
    read = market_read(symbol, extra=f"{MARKET_ROW_TEXT}, {asset_row_text('b')}, {asset_row_text('q')}")
    if read is None:
        return None
    market, (market_text, base_text, quote_text) = read
    found = SeenMarket(market=market, market_text=market_text, base_text=base_text, quote_text=quote_text)
    _remember(_markets, symbol, found)
    return found


def seen_rows_of(caller: SeenKey, place: SeenMarket) -> SeenRows:
    """What the order statement re-checks for a call made with this key on this market."""
    market = place.market
    return SeenRows(
        api_key_id=caller.key.pk,
        api_key=caller.key_text,
        user=caller.user_text,
        market=place.market_text,
        base_id=market.base_id,
        base=place.base_text,
        quote_id=market.quote_id,
        quote=place.quote_text,
    )


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
