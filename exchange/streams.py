"""WebSocket streams (§8 of the API reference): names, channel-layer groups, the one publish helper,
and the payloads derived from committed market state (bookTicker, ticker, kline).

Groups: one per public stream name (`<db>.depth.SOL_USDC`, `<db>.kline.1m.SOL_USDC`), whose
member in each web process is that process's hub (exchange/stream_hub.py), which hands the frames
to exactly the sockets that asked for them; one per user (`<db>.user.<id>`) for every
private event of that account, which the consumer filters by stream and symbol. A channel-layer
message carries a list of events, in outbox order, so one message per group per publisher round
keeps each group's order and keeps the per-socket message count (the layer's capacity) low.

Ending access: one group per API key (`<db>.apikey.<id>`) holds the sockets whose private streams
that key opened; revoking the key, or freezing the account (on the user's group), sends them an
`ACCESS_END_MESSAGE_TYPE` message after commit (`api_key_revoked_on_commit`,
`account_frozen_on_commit`), and they drop their private streams.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from core.money import render
from exchange.models import Market
from exchange.selectors_market_data import (
    EPOCH,
    KLINE_INTERVALS,
    KLINE_STRIDES,
    MONTH,
    WEEK_ORIGIN,
    depth_get,
    kline_list,
    ticker_list,
)

logger = logging.getLogger(__name__)

# The channel-layer message type; Channels dispatches it to `StreamConsumer.stream_events`.
EVENTS_MESSAGE_TYPE = "stream.events"
# Tells the sockets of a group to drop their private streams (`StreamConsumer.stream_access_end`),
# with one of these reasons.
ACCESS_END_MESSAGE_TYPE = "stream.access_end"
ACCESS_END_KEY_REVOKED = "key.revoked"
ACCESS_END_ACCOUNT_FROZEN = "account.frozen"
# Events per channel-layer message: bounds a message's size when a batch touches one group a lot.
EVENTS_PER_MESSAGE = 200

PUBLIC_KINDS = frozenset({"depth", "trade", "ticker", "bookTicker"})
ORDER_UPDATE = "account.orderUpdate"
POSITION_UPDATE = "account.positionUpdate"
BALANCE_UPDATE = "account.balanceUpdate"
RFQ_UPDATE = "account.rfqUpdate"
# Private streams that may name a market (`account.orderUpdate.SOL_USDC`).
PRIVATE_PER_SYMBOL = frozenset({ORDER_UPDATE, POSITION_UPDATE, RFQ_UPDATE})
TICKER_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Stream:
    """A parsed stream name. `kind` is the public kind (`depth`, `kline`...) or the private base
    name (`account.orderUpdate`); `symbol` is None for account-wide private streams."""

    name: str
    kind: str
    symbol: str | None = None
    interval: str | None = None

    @property
    def is_private(self) -> bool:
        return self.kind.startswith("account.")


def stream_parse(name: object, *, symbols: Container[str]) -> Stream | None:
    """The stream `name` denotes, or None if it is not one Satchel serves (unknown kind, market or
    kline interval). `symbols` are the market ids clients may name."""
    if not isinstance(name, str) or not 0 < len(name) <= 96:
        return None
    if name == BALANCE_UPDATE:
        return Stream(name, BALANCE_UPDATE)
    for base in PRIVATE_PER_SYMBOL:
        if name == base:
            return Stream(name, base)
        if name.startswith(base + "."):
            symbol = name[len(base) + 1 :]
            return Stream(name, base, symbol) if symbol in symbols else None
    kind, _, rest = name.partition(".")
    if kind == "kline":
        interval, _, symbol = rest.partition(".")
        if interval in KLINE_INTERVALS and symbol in symbols:
            return Stream(name, kind, symbol, interval)
        return None
    if kind in PUBLIC_KINDS and rest in symbols:
        return Stream(name, kind, rest)
    return None


def deployment_scope() -> str:
    """Groups are named within the database the events come from: servers of two deployments (or
    two test sessions) sharing a Redis never deliver each other's events, even with the same
    stream names and user ids."""
    name = str(settings.DATABASES["default"]["NAME"])
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40]


def public_group(stream: str) -> str:
    """The group of a public stream: its name, within the deployment (Channels accepts letters,
    digits and `-_.`, fewer than 100 of them)."""
    return f"{deployment_scope()}.{stream}"


def user_group(user_id: int) -> str:
    """The group of every private event of one account."""
    return f"{deployment_scope()}.user.{user_id}"


def api_key_group(api_key_id: int) -> str:
    """The group of the sockets whose private streams one API key opened: told when it is revoked."""
    return f"{deployment_scope()}.apikey.{api_key_id}"


def api_key_revoked_on_commit(*, api_key_id: int) -> None:
    """Once the caller's transaction commits, end the private streams the key opened."""
    _access_end_on_commit(api_key_group(api_key_id), reason=ACCESS_END_KEY_REVOKED)


def account_frozen_on_commit(*, user_id: int) -> None:
    """Once the caller's transaction commits, end every private stream of the account."""
    _access_end_on_commit(user_group(user_id), reason=ACCESS_END_ACCOUNT_FROZEN)


def _access_end_on_commit(group: str, *, reason: str) -> None:
    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(
                group, {"type": ACCESS_END_MESSAGE_TYPE, "reason": reason}
            )
        except Exception:
            # The revocation stands; the sockets find out at their next credential check
            # (exchange/stream_auth.py, RECHECK_SECONDS) instead of now.
            logger.warning("stream access end (%s) not sent to %s", reason, group, exc_info=True)

    transaction.on_commit(send, robust=True)


async def stream_events_send(
    layer: Any, group: str, events: Sequence[tuple[str, dict[str, Any]]], *, user_id: int | None = None
) -> None:
    """Send (stream, data) pairs to a group, in order. The one publish helper: tests and callers
    with a layer at hand use it; the outbox publisher sends the same messages (`stream_messages`)
    from its thread (exchange/services/outbox_send.py). The stream hub (public) and consumers'
    `stream_events` (private) handle what it sends."""
    for message in stream_messages(events, user_id=user_id):
        await layer.group_send(group, message)


def stream_messages(
    events: Sequence[tuple[str, dict[str, Any]]], *, user_id: int | None = None
) -> list[dict[str, Any]]:
    """The channel-layer messages that carry (stream, data) pairs to one group, in order.

    A public group fans out to every subscriber, so its frames are JSON-encoded once, here, next to
    the ids the consumer orders them by (`public_frame`): each web process decodes the message
    once, and each socket then costs its checks and a send (docs/PERFORMANCE.md, "WebSocket fan-out"). Private events stay decoded:
    the consumer routes them by symbol, and each reaches a handful of sockets.
    """
    messages = []
    for start in range(0, len(events), EVENTS_PER_MESSAGE):
        chunk = events[start : start + EVENTS_PER_MESSAGE]
        if user_id is None:
            frames = [public_frame(stream, data) for stream, data in chunk]
            messages.append({"type": EVENTS_MESSAGE_TYPE, "frames": frames, "user": None})
        else:
            events_list = [[stream, data] for stream, data in chunk]
            messages.append({"type": EVENTS_MESSAGE_TYPE, "events": events_list, "user": user_id})
    return messages


def public_frame(stream: str, data: dict[str, Any]) -> list[Any]:
    """`[stream, kind, first id, last id, frame text]`: depth's `U`/`u`, a trade's `t` twice, zeros
    for the other kinds (which the consumer does not order)."""
    kind = data.get("e")
    if kind == "depth":
        first_id, last_id = data["U"], data["u"]
    elif kind == "trade":
        first_id = last_id = data["t"]
    else:
        first_id = last_id = 0
    text = json.dumps({"stream": stream, "data": data}, separators=(",", ":"))
    return [stream, kind, first_id, last_id, text]


async def group_has_members(layer: Any, group: str) -> bool:
    """Whether any socket listens on `group`, so derived streams nobody watches cost no query.

    channels_redis keeps a group as a sorted set, the in-memory layer as a dict; for any other
    layer the answer is "maybe", which only costs the work this check saves.
    """
    loop_layer = getattr(layer, "_get_layer", None)
    if loop_layer is not None:
        # channels_redis' pub/sub layer: a group is a Redis channel each web process subscribes to.
        return await _pubsub_has_subscribers(loop_layer(), group)
    group_key = getattr(layer, "_group_key", None)
    if group_key is not None and hasattr(layer, "connection"):
        connection = layer.connection(layer.consistent_hash(group))
        return bool(await connection.zcard(group_key(group)))
    groups = getattr(layer, "groups", None)
    if isinstance(groups, dict):
        return bool(groups.get(group))
    return True


async def _pubsub_has_subscribers(loop_layer: Any, group: str) -> bool:
    try:
        channel = loop_layer._get_group_channel_name(group)
        shard = loop_layer._get_shard(channel)
        shard._ensure_redis()
        counts = await shard._redis.pubsub_numsub(channel)
    except AttributeError:  # another channels_redis version: "maybe"
        return True
    return bool(counts and counts[0][1])


# --- payloads -----------------------------------------------------------------------------------


def now_micros() -> int:
    return time.time_ns() // 1000


def _places(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


def depth_warmup_payload(market: Market, update_id: int) -> dict[str, Any]:
    """An empty depth delta at the market's current update id.

    ccxt caches deltas and fetches the REST snapshot only once 11 have arrived (§8.6), so a quiet
    market would never build a book; a few of these right after SUBSCRIBE start it at once. They
    change no level, and the snapshot it then fetches has `lastUpdateId` >= `update_id`, so ccxt
    skips them and applies every later real delta.
    """
    micros = now_micros()
    return {
        "e": "depth",
        "E": micros,
        "T": micros,
        "s": market.symbol,
        "U": update_id,
        "u": update_id,
        "a": [],
        "b": [],
    }


def book_ticker_payload(market: Market) -> dict[str, Any]:
    """Best ask and bid with the depth update id they belong to (one consistent read)."""
    snapshot = depth_get(market_id=market.pk, limit=1)
    price_places, quantity_places = _places(market.tick_size), _places(market.step_size)
    ask = snapshot.asks[0] if snapshot.asks else None
    bid = snapshot.bids[-1] if snapshot.bids else None
    micros = now_micros()
    return {
        "e": "bookTicker",
        "E": micros,
        "s": market.symbol,
        "a": render(ask[0], price_places) if ask else None,
        "A": render(ask[1], quantity_places) if ask else None,
        "b": render(bid[0], price_places) if bid else None,
        "B": render(bid[1], quantity_places) if bid else None,
        "u": str(snapshot.last_update_id),
        "T": micros,
    }


def ticker_payload(market: Market) -> dict[str, Any]:
    """24-hour rolling statistics, as GET /api/v1/ticker computes them."""
    micros = now_micros()
    now = datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    stats = ticker_list(market_ids=[market.pk], window=TICKER_WINDOW, now=now)[market.pk]
    return {
        "e": "ticker",
        "E": micros,
        "s": market.symbol,
        "o": render(stats.first_price),
        "c": render(stats.last_price),
        "h": render(stats.high),
        "l": render(stats.low),
        "v": render(stats.volume),
        "V": render(stats.quote_volume),
        "n": int(stats.trades),
    }


def kline_bucket(interval: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the `interval` candle `now` falls in, aligned as GET /api/v1/klines aligns."""
    if interval == MONTH:
        start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return start, start.replace(year=year, month=month)
    stride = KLINE_STRIDES[interval]
    origin = WEEK_ORIGIN if interval == "1w" else EPOCH
    start = origin + ((now - origin) // stride) * stride
    return start, start + stride


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def kline_payload(market: Market, interval: str, at: datetime | None = None) -> dict[str, Any] | None:
    """The candle `at` falls in (default: now), or None while it has no trade (a candle without
    trades has no prices). `X` tells whether it is closed. ccxt takes the candle time from `T`,
    the close time."""
    micros = now_micros()
    now = datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    start, end = kline_bucket(interval, at or now)
    klines = kline_list(market_id=market.pk, interval=interval, start=start, end=end, limit=1)
    if not klines:
        return None
    kline = klines[0]
    return {
        "e": "kline",
        "E": micros,
        "s": market.symbol,
        "t": _iso(kline.start),
        "T": _iso(kline.end),
        "o": render(kline.open),
        "c": render(kline.close),
        "h": render(kline.high),
        "l": render(kline.low),
        "v": render(kline.volume),
        "n": int(kline.trades),
        "X": kline.end <= now,
    }


def market_symbols() -> dict[str, Market]:
    """Markets clients may name in a stream, by symbol."""
    return {market.symbol: market for market in Market.objects.filter(visible=True)}
