"""The outbox publisher: committed `OutboxEvent` rows to channel-layer groups, in id order.

The matching worker writes events in the transaction of the batch they describe
(exchange/services/settlement.py) and rings `NOTIFY satchel_outbox`, which PostgreSQL delivers at
commit. The publisher:

1. takes a PostgreSQL advisory lock, so exactly one publisher runs; a second one waits for it;
2. reads unpublished rows in id order, sends them, one message per group per round
   (exchange/streams.py), and marks them published by compare-and-set;
3. then sends what is derived from committed state (bookTicker, ticker, kline) for the markets
   that moved, throttled per market, and only for streams somebody watches;
4. sleeps until a NOTIFY or a short poll interval.

Rows: most writers store one event per row (`payload` an object). The matching worker stores one
row per batch (stream `matching.batch`): the batch's events in engine units and ids, which the
publisher renders into frames (exchange/services/outbox_batch.py); rendering them in the batch's
transaction, a row per event, cost the batch more time and WAL than its own fills
(docs/PERFORMANCE.md, sequencer). Rows holding a list of rendered events (one per stream and
user, as the worker stored them before) are expanded too. A round stops adding rows once it holds
`batch_size` events.

Ordering: one market's batches commit one after another (one writer per market), so within a
market id order is commit order, and one publisher sends each group's events in that order.
Markets interleave freely. Delivery is at least once: a crash between sending and marking sends
a round again; consumers drop depth and trade events they have already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from django.db import DatabaseError, connection
from django.utils import timezone

from core.advisory_locks import AdvisoryNamespace
from exchange import streams
from exchange.models import Market, OutboxEvent
from exchange.selectors_market_data import KLINE_INTERVALS
from exchange.services.outbox_batch import (
    BATCH_STREAM,
    batch_events_render,
    batch_order_ids,
    batch_orders_read,
)

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "satchel_outbox"
ADVISORY_NAMESPACE = int(AdvisoryNamespace.OUTBOX_PUBLISHER)
ADVISORY_KEY = 1
BATCH_SIZE = 1000
# Without a NOTIFY (an event written elsewhere, a lost notification), a round still starts this often.
POLL_SECONDS = 0.05
LOCK_RETRY_SECONDS = 1.0
ERROR_BACKOFF_SECONDS = 1.0
# Derived streams, at most this often per market (Backpack: ticker each second, kline at most
# once a second); the last change is always sent once the interval has passed.
BOOK_TICKER_INTERVAL = 0.05
TICKER_INTERVAL = 1.0
KLINE_INTERVAL = 1.0
# Published rows are kept this long for inspection, then deleted a chunk at a time.
RETENTION = timedelta(days=1)
PRUNE_EVERY_SECONDS = 60.0
PRUNE_CHUNK = 10_000
MARKETS_RELOAD_SECONDS = 10.0

T = TypeVar("T")


def outbox_notify() -> None:
    """Wake the publisher when the caller's transaction commits (PostgreSQL delivers NOTIFY then,
    and folds repeats within one transaction into one)."""
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")


@dataclass(frozen=True)
class PendingEvent:
    id: int
    stream: str
    user_id: int | None
    payload: dict[str, Any]


# Rows read per query while filling a round: grouped rows hold many events each.
_PAGE_ROWS = 100


def outbox_pending(*, limit: int = BATCH_SIZE) -> tuple[list[PendingEvent], list[int]]:
    """The oldest unpublished events, in id order (the partial index on unpublished ids), from
    whole rows until at least `limit` events or none left; and the ids of those rows. A grouped
    row's events share its id. A row that holds a whole matching batch counts its events as it is
    rendered: the rows after the one that reached `limit` wait for the next round."""
    events: list[PendingEvent] = []
    ids: list[int] = []
    after = 0
    while len(events) < limit:
        rows = list(
            OutboxEvent.objects.filter(published_at=None, id__gt=after)
            .order_by("id")
            .values_list("id", "stream", "user_id", "payload")[: min(_PAGE_ROWS, limit - len(events))]
        )
        for row_id, stream, user_id, payload in rows:
            if len(events) >= limit:
                return events, ids
            ids.append(row_id)
            if stream == BATCH_STREAM:
                orders = batch_orders_read(batch_order_ids(payload))
                events.extend(PendingEvent(row_id, *event) for event in batch_events_render(payload, orders))
            elif isinstance(payload, list):
                events.extend(PendingEvent(row_id, stream, user_id, item) for item in payload)
            else:
                events.append(PendingEvent(row_id, stream, user_id, payload))
        if len(rows) < _PAGE_ROWS:
            break
        after = rows[-1][0]
    return events, ids


def outbox_mark_published(*, ids: list[int]) -> int:
    """Compare-and-set: only rows still unpublished are marked. Returns how many were."""
    if not ids:
        return 0
    marked = OutboxEvent.objects.filter(pk__in=ids, published_at=None).update(published_at=timezone.now())
    if marked != len(ids):
        # Only possible if a second publisher ran without the lock: its consumers dedupe depth.
        logger.warning("outbox: %s of %s events were already published", len(ids) - marked, len(ids))
    return marked


def outbox_prune(*, older_than: timedelta = RETENTION, chunk: int = PRUNE_CHUNK) -> int:
    """Delete published events older than `older_than`, at most `chunk` rows per call."""
    cutoff = timezone.now() - older_than
    ids = list(
        OutboxEvent.objects.filter(published_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:chunk]
    )
    if not ids:
        return 0
    deleted, _ = OutboxEvent.objects.filter(pk__in=ids).delete()
    return deleted


def _try_lock() -> bool:
    """Session-level, so it outlives statements and PostgreSQL frees it if this process dies."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, ADVISORY_KEY])
        acquired = bool(cursor.fetchone()[0])
        if acquired:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return acquired


def _wait_for_notify(timeout: float) -> None:
    """Block up to `timeout` seconds for a NOTIFY (ones that came in meanwhile return at once)."""
    connection.ensure_connection()
    for _ in connection.connection.notifies(timeout=max(0.0, timeout), stop_after=1):
        break


def _reset_connection() -> None:
    """Release the lock and drop the session; after a failure, start over from the lock (a broken
    connection lost the lock and the LISTEN anyway). Unlocking first, rather than leaving it to the
    server when the session ends, lets the next publisher take over at once."""
    with contextlib.suppress(DatabaseError):
        if connection.connection is not None and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock_all()")
    connection.close()


@dataclass
class _Due:
    """Markets whose derived stream needs sending, and when each was last sent."""

    interval: float
    pending: set[int] = field(default_factory=set)
    sent_at: dict[int, float] = field(default_factory=dict)

    def ready(self, now: float) -> list[int]:
        ready = [m for m in self.pending if now - self.sent_at.get(m, 0.0) >= self.interval]
        self.pending.difference_update(ready)
        for market_id in ready:
            self.sent_at[market_id] = now
        return ready

    def next_due(self, now: float) -> float:
        """Seconds until the next pending market may be sent (inf when none is pending)."""
        waits = [self.sent_at.get(m, 0.0) + self.interval - now for m in self.pending]
        return max(0.0, min(waits)) if waits else math.inf


class OutboxPublisher:
    """Runs in one asyncio loop; every database call goes to one dedicated thread (Django's
    connection is per thread, and the advisory lock and LISTEN belong to that connection)."""

    def __init__(self, *, layer: Any, batch_size: int = BATCH_SIZE, poll_seconds: float = POLL_SECONDS):
        self.layer = layer
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-db")
        self.markets: dict[str, Market] = {}
        self.book_tickers = _Due(BOOK_TICKER_INTERVAL)
        self.tickers = _Due(TICKER_INTERVAL)
        self.klines = _Due(KLINE_INTERVAL)
        self.last_book_ticker: dict[int, tuple[Any, ...]] = {}
        # Per market, the first and last trade time since its candles were last sent: a round
        # may straddle a candle boundary, and each candle traded in gets its update.
        self.trade_span: dict[int, tuple[datetime, datetime]] = {}
        self.pruned_at = 0.0
        self.markets_loaded_at = -MARKETS_RELOAD_SECONDS

    async def _db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, partial(function, *args, **kwargs)
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; database and Redis failures back off and start over."""
        try:
            while not stop.is_set():
                try:
                    if not await self._db(_try_lock):
                        logger.info("outbox: another publisher holds the lock; waiting")
                        await _sleep_unless(stop, LOCK_RETRY_SECONDS)
                        continue
                    logger.info("outbox: publishing")
                    while not stop.is_set():
                        await self.publish_round()
                except Exception:
                    # Database or Redis gone, or a bug: this process is the only publisher, so
                    # it backs off and starts over rather than exit and stop the node.
                    logger.exception("outbox: publishing failed; retrying")
                    await self._db(_reset_connection)
                    await _sleep_unless(stop, ERROR_BACKOFF_SECONDS)
        finally:
            await self.close()

    async def close(self) -> None:
        """Drop the database session (and with it the lock) and stop the database thread."""
        await self._db(_reset_connection)
        self.executor.shutdown(wait=True)

    async def publish_round(self, *, wait: bool = True) -> int:
        """One round: send the pending events, mark them, send derived streams that are due, and
        (with `wait`) sleep until woken if the outbox was drained. Returns the rows published."""
        events, ids = await self._db(outbox_pending, limit=self.batch_size)
        if events:
            await self.send_events(events)
            await self._db(outbox_mark_published, ids=ids)
            await self._note_markets(events)
        await self.send_derived()
        now = time.monotonic()
        if now - self.pruned_at > PRUNE_EVERY_SECONDS:
            self.pruned_at = now
            await self._db(outbox_prune)
        if wait and len(events) < self.batch_size:
            timeout = min(
                self.poll_seconds,
                self.book_tickers.next_due(now),
                self.tickers.next_due(now),
                self.klines.next_due(now),
            )
            await self._db(_wait_for_notify, timeout)
        return len(ids)

    async def send_events(self, events: list[PendingEvent]) -> None:
        """One message per group; groups in parallel, each group's events in id order."""
        by_group: dict[tuple[str, int | None], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for event in events:
            if event.user_id is None:
                key = (streams.public_group(event.stream), None)
            else:
                key = (streams.user_group(event.user_id), event.user_id)
            by_group[key].append((event.stream, event.payload))
        await asyncio.gather(
            *(
                streams.stream_events_send(self.layer, group, group_events, user_id=user_id)
                for (group, user_id), group_events in by_group.items()
            )
        )

    async def _note_markets(self, events: list[PendingEvent]) -> None:
        for event in events:
            if event.user_id is not None:
                continue
            kind, _, symbol = event.stream.partition(".")
            if kind not in ("depth", "trade"):
                continue
            market = self.markets.get(symbol)
            if market is None and time.monotonic() - self.markets_loaded_at > MARKETS_RELOAD_SECONDS:
                # A market added since, or a hidden one (no derived streams): reload, not too often.
                self.markets = await self._db(streams.market_symbols)
                self.markets_loaded_at = time.monotonic()
                market = self.markets.get(symbol)
            if market is None:
                continue
            if kind == "depth":
                self.book_tickers.pending.add(market.pk)
            else:
                self.tickers.pending.add(market.pk)
                self.klines.pending.add(market.pk)
                at = datetime.fromtimestamp(event.payload["T"] / 1_000_000, tz=UTC)
                first, _ = self.trade_span.get(market.pk, (at, at))
                self.trade_span[market.pk] = (min(first, at), at)

    async def send_derived(self) -> None:
        """bookTicker, ticker and kline for the markets whose depth or trades moved, as due."""
        now = time.monotonic()
        by_id = {market.pk: market for market in self.markets.values()}
        for market_id in self.book_tickers.ready(now):
            if (market := by_id.get(market_id)) is None:
                continue
            stream = f"bookTicker.{market.symbol}"
            if not await self._is_watched(stream):
                # Unwatched changes are not tracked, so forget what was last sent.
                self.last_book_ticker.pop(market_id, None)
                continue
            data = await self._db(streams.book_ticker_payload, market)
            best = (data["a"], data["A"], data["b"], data["B"])
            if self.last_book_ticker.get(market_id) != best:  # else bookTicker has nothing new
                self.last_book_ticker[market_id] = best
                await self._send_public(stream, data)
        for market_id in self.tickers.ready(now):
            if (market := by_id.get(market_id)) is None:
                continue
            stream = f"ticker.{market.symbol}"
            if await self._is_watched(stream):
                await self._send_public(stream, await self._db(streams.ticker_payload, market))
        for market_id in self.klines.ready(now):
            if (market := by_id.get(market_id)) is None:
                continue
            span = self.trade_span.pop(market_id, None)
            if span is None:
                continue
            first, last = span
            for interval in KLINE_INTERVALS:
                stream = f"kline.{interval}.{market.symbol}"
                if not await self._is_watched(stream):
                    continue
                moments = (
                    [first]
                    if streams.kline_bucket(interval, first) == streams.kline_bucket(interval, last)
                    else [first, last]
                )
                for at in moments:
                    kline = await self._db(streams.kline_payload, market, interval, at)
                    if kline is not None:
                        await self._send_public(stream, kline)

    async def _is_watched(self, stream: str) -> bool:
        return await streams.group_has_members(self.layer, streams.public_group(stream))

    async def _send_public(self, stream: str, data: dict[str, Any]) -> None:
        await streams.stream_events_send(self.layer, streams.public_group(stream), [(stream, data)])


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


__all__ = [
    "NOTIFY_CHANNEL",
    "OutboxPublisher",
    "PendingEvent",
    "outbox_mark_published",
    "outbox_notify",
    "outbox_pending",
    "outbox_prune",
]
